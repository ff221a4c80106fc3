"""The meeting room's pages: the live page every participant opens on their tablet (with the
chair's console in it for those who drive the meeting) and the projector's big-screen view.

Both pages are shells: ``static/js/live.js`` joins the meeting's Socket.IO room, renders the
state it is given (:func:`cabinet.live.payloads.room_state`) and applies the broadcasts. The
strings the script shows are rendered here, in the viewer's language (the script itself is not
translated).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from cabinet.live import payloads
from cabinet.live.models import OUTCOME_LABELS, STANDARD_LABELS
from cabinet.meetings import access
from cabinet.meetings.models import AGENDA_STATUS_LABELS, PARTICIPANT_ROLE_LABELS
from cabinet.users.models import User

bp = Blueprint("live", __name__)


def _me() -> User:
    return current_user._get_current_object()


def _labels() -> dict:
    """Labels of codes found in the payloads, in the viewer's language."""
    return {
        "options": {key: str(label) for key, label in STANDARD_LABELS.items()},
        "outcomes": {str(key): str(label) for key, label in OUTCOME_LABELS.items()},
        "statuses": {str(key): str(label) for key, label in AGENDA_STATUS_LABELS.items()},
        "roles": {str(key): str(label) for key, label in PARTICIPANT_ROLE_LABELS.items()},
    }


@bp.route("/meetings/<int:meeting_id>/live")
@login_required
def room(meeting_id: int):
    """The meeting room: current item, check-in, speakers, the vote; the console for controllers."""
    me = _me()
    meeting = access.get_meeting(me, meeting_id)
    state = payloads.room_state(me, meeting)
    return render_template("live/room.html", meeting=meeting, state=state,
                           can_control=state["me"]["can_control"], labels=_labels())


@bp.route("/meetings/<int:meeting_id>/projector")
@login_required
def projector(meeting_id: int):
    """The room's big screen: read-only, names only; it renders once its socket has joined."""
    meeting = access.get_meeting(_me(), meeting_id)
    return render_template("live/projector.html", meeting=meeting, labels=_labels())
