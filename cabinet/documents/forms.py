"""Forms of the document pages.

Choices are checked by the service (with translated messages), not by WTForms, whose built-in
"Not a valid choice" has no Vietnamese translation.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField

from cabinet.core.forms import max_length, required
from cabinet.documents.models import DOC_TYPE_LABELS, SECRECY_LABELS, URGENCY_LABELS

_file_kw = {"accept": ".pdf,.docx,application/pdf,"
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def _file_field() -> FileField:
    return FileField(_l("File (PDF or Word DOCX)"),
                     validators=[FileRequired(message=_l("Choose a file to upload."))], render_kw=_file_kw)


class UploadForm(FlaskForm):
    title = StringField(_l("Title"), validators=[required(), max_length(500)])
    doc_type = SelectField(_l("Type"), validate_choice=False,
                           choices=lambda: [(t.value, label) for t, label in DOC_TYPE_LABELS.items()])
    # The route narrows the levels to those the uploader is cleared for.
    secrecy = SelectField(_l("Secrecy level (độ mật)"), validate_choice=False,
                          choices=lambda: [(c.value, label) for c, label in SECRECY_LABELS.items()])
    urgency = SelectField(_l("Urgency (độ khẩn)"), validate_choice=False,
                          choices=lambda: [(u.value, label) for u, label in URGENCY_LABELS.items()])
    agenda_item_id = SelectField(_l("Agenda item"), validate_choice=False)
    file = _file_field()


class VersionForm(FlaskForm):
    file = _file_field()


class RecallForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the recall"), validators=[max_length(2000)],
                           render_kw={"rows": 2})
