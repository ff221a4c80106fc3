"""Forms of the ballot pages.

Choices (recipients, decider, policy) are checked by the service with translated messages, not by
WTForms, whose built-in "Not a valid choice" has no Vietnamese translation. The answers to the
questions are not WTForms fields: their number depends on the ballot; the route reads them as
``choice-<question id>`` and ``comment-<question id>``.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import Optional

from cabinet.ballots.models import NO_ANSWER_LABELS
from cabinet.core.forms import max_length, required
from cabinet.documents.forms import UploadForm
from cabinet.rules import rules


class BallotForm(FlaskForm):
    number = StringField(_l("Number and symbol (số, ký hiệu)"), validators=[max_length(60)],
                         render_kw={"placeholder": "45/PLYK-VPCP"})
    title = StringField(_l("Title"), validators=[required(), max_length(500)])
    summary = TextAreaField(_l("Summary"), validators=[max_length(20000)], render_kw={"rows": 5})
    # One entry per question; blank entries are dropped. ballots.js adds and removes entries;
    # without it, the "Add a question" button posts the form back with one more entry.
    questions = FieldList(TextAreaField(_l("Question"), validators=[max_length(4000)],
                                        render_kw={"rows": 2}), min_entries=1, max_entries=50)
    recipients = SelectMultipleField(_l("Recipients"), coerce=int, validate_choice=False)
    deadline_day = DateField(_l("Deadline: date"), validators=[Optional()])
    deadline_time = TimeField(_l("Deadline: time"), validators=[Optional()])
    no_answer_policy = RadioField(_l("A member who does not answer"), validate_choice=False,
                                  choices=lambda: [SelectChoice(p.value, label)
                                                   for p, label in NO_ANSWER_LABELS.items()])
    decider = SelectField(_l("Decides on the result"), coerce=int, validate_choice=False)

    def deadline(self) -> datetime | None:
        """The deadline as an aware datetime (the form is in the configured local zone); None
        when the date is left empty (the service then applies D13's default)."""
        if self.deadline_day.data is None:
            return None
        zone = ZoneInfo(current_app.config["CABINET_TIMEZONE"])
        moment = self.deadline_time.data or time(rules().ballot_deadline_hour)
        return datetime.combine(self.deadline_day.data, moment, tzinfo=zone)


class DossierForm(UploadForm):
    """A file of the ballot's dossier: the meeting document upload without urgency or agenda item."""

    urgency = None
    agenda_item_id = None


class SignForm(FlaskForm):
    """The signature of an answer (D12): the password, and the 6-digit code when enrolled."""

    password = PasswordField(_l("Your password"), render_kw={"autocomplete": "current-password"})
    otp = StringField(_l("6-digit code from your authenticator app"), validators=[max_length(7)],
                      render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 7,
                                 "pattern": "[0-9 ]*"})


class PaperAnswerForm(FlaskForm):
    respondent = SelectField(_l("Member who answered on paper"), coerce=int, validate_choice=False)


class DecisionForm(FlaskForm):
    decision = TextAreaField(_l("Decision"), validators=[required(), max_length(20000)],
                             render_kw={"rows": 4})


class RecallForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the recall"), validators=[required(), max_length(2000)],
                           render_kw={"rows": 2})
