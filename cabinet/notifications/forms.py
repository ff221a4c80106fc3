"""The e-mail preferences form (the account's notifications page)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField

#: Group → its short name (filters, the home page's counts).
GROUP_NAMES = {
    "meetings": _l("Meetings"),
    "documents": _l("Documents"),
    "ballots": _l("Opinion ballots"),
    "minutes": _l("Minutes"),
}

#: Group → label of its e-mail checkbox, in the order the page shows them.
GROUP_LABELS = {
    "meetings": _l("Meetings: invitations, changes of time or place, cancellations, reminders"),
    "documents": _l("Documents: new documents published, documents recalled"),
    "ballots": _l("Opinion ballots: new ballots, reminders, results"),
    "minutes": _l("Minutes: drafts to review, comments, signed minutes"),
}


class NotificationPreferencesForm(FlaskForm):
    """One checkbox per group: "send me an e-mail copy". An unticked box is simply absent from the
    submitted form, so every box is read on every submit."""

    meetings = BooleanField(GROUP_LABELS["meetings"])
    documents = BooleanField(GROUP_LABELS["documents"])
    ballots = BooleanField(GROUP_LABELS["ballots"])
    minutes = BooleanField(GROUP_LABELS["minutes"])
