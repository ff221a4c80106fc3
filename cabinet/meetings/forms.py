"""Forms of the meeting pages."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import NumberRange, Optional

from cabinet.core.forms import max_length, required
from cabinet.meetings.models import AGENDA_STATUS_LABELS, MEETING_KIND_LABELS


class MeetingForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=lambda: [SelectChoice(k.value, label)
                                                   for k, label in MEETING_KIND_LABELS.items()])
    title = StringField(_l("Title"), validators=[required(), max_length(300)])
    day = DateField(_l("Date"), validators=[required()])
    start = TimeField(_l("Starts at"), validators=[required()])
    end = TimeField(_l("Ends at"), validators=[required()])
    place = StringField(_l("Place"), validators=[max_length(300)])
    online_url = StringField(_l("Online link"), validators=[max_length(500)],
                             render_kw={"type": "url", "placeholder": "https://"})
    description = TextAreaField(_l("Notes"), validators=[max_length(5000)])
    chair = SelectField(_l("Chair"), coerce=int, validate_choice=False)
    members = SelectMultipleField(_l("Members"), coerce=int, validate_choice=False)
    secretaries = SelectMultipleField(_l("Secretaries"), coerce=int, validate_choice=False)
    guests = SelectMultipleField(_l("Guests"), coerce=int, validate_choice=False)

    def local_times(self) -> tuple[datetime, datetime]:
        """Start and end as aware datetimes (the form is in the configured local zone)."""
        zone = ZoneInfo(current_app.config["CABINET_TIMEZONE"])
        return (_combine(self.day.data, self.start.data, zone),
                _combine(self.day.data, self.end.data, zone))


def _combine(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone)


class AgendaItemForm(FlaskForm):
    title = StringField(_l("Title"), validators=[required(), max_length(500)])
    presenter_organisation = StringField(_l("Presenting organisation"), validators=[max_length(200)])
    presenter_name = StringField(_l("Presenter"), validators=[max_length(200)])
    minutes = IntegerField(_l("Time (minutes)"), default=15,
                           validators=[Optional(), NumberRange(min=0, max=600,
                                                               message=_l("Between 0 and 600 minutes."))])


class AgendaItemEditForm(AgendaItemForm):
    status = SelectField(_l("Status"), choices=lambda: [SelectChoice(s.value, label)
                                                       for s, label in AGENDA_STATUS_LABELS.items()])
    conclusion = TextAreaField(_l("Conclusion"), validators=[max_length(20000)])


class RespondForm(FlaskForm):
    answer = SelectField(_l("Your answer"), choices=lambda: [
        SelectChoice("yes", _l("I will attend")), SelectChoice("no", _l("I cannot attend"))])
    reason = TextAreaField(_l("Reason for absence"), validators=[max_length(2000)])
    deputy = SelectField(_l("Deputy attending in my place (người dự thay)"), coerce=int,
                         validate_choice=False)


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the cancellation"), validators=[required(), max_length(2000)])
