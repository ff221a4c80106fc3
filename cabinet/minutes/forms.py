"""Forms of the minutes pages.

The rich-text fields are plain ``<textarea>``s holding sanitised HTML: static/js/minutes.js turns
each into a small editor and writes its HTML back, so the form still posts without JavaScript.
The per-item texts are not WTForms fields (their number depends on the agenda): the route reads
``item-<id>-discussion_html`` and ``item-<id>-conclusion_html``, as the ballot pages read their
answers. Choices are checked by the service, with translated messages. The autosave's JSON body
is the API's (:class:`cabinet.api.minutes.MinutesDraftIn`).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, PasswordField, SelectField, StringField, TextAreaField

from cabinet.core.forms import max_length, required
from cabinet.documents.models import SECRECY_LABELS

RICH_KW = {"rows": 6, "data-rich": "true"}


class MinutesForm(FlaskForm):
    """The secretary's draft: the number, the secrecy level, the opening and closing text (the
    items' texts are read by name, see the module's docstring)."""

    revision = HiddenField()
    number = StringField(_l("Number and symbol (Số)"), validators=[max_length(60)],
                         render_kw={"placeholder": "12/BB-CP", "autocomplete": "off"})
    secrecy = SelectField(_l("Secrecy level (độ mật)"), validate_choice=False,
                          choices=lambda: [(c.value, label) for c, label in SECRECY_LABELS.items()])
    opening_html = TextAreaField(_l("Opening"), render_kw=RICH_KW)
    closing_html = TextAreaField(_l("Closing"), render_kw=RICH_KW)


class FinalizeForm(FlaskForm):
    """Finalize: the revision the editor looked at, and the second press that confirms it."""

    revision = HiddenField()
    confirm = HiddenField()


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Your comment"), validators=[required(), max_length(5000)],
                         render_kw={"rows": 3})
    item_id = HiddenField()


class SignForm(FlaskForm):
    # The key's passphrase is not the login password: no password manager should offer either.
    passphrase = PasswordField(_l("Passphrase of your signing key"),
                               render_kw={"autocomplete": "off", "spellcheck": "false"})


class CorrectionForm(FlaskForm):
    reason = TextAreaField(_l("What the correction is for"), validators=[required(), max_length(2000)],
                           render_kw={"rows": 2})


class VerifyForm(FlaskForm):
    # Checked by the service (missing, not a PDF), so that the page and the API say the same thing.
    file = FileField(_l("Signed PDF file"), render_kw={"accept": ".pdf,application/pdf"})


class SigningKeyForm(FlaskForm):
    user = SelectField(_l("Person"), coerce=int, validate_choice=False)
    file = FileField(_l("PKCS#12 file (.p12 or .pfx)"),
                     render_kw={"accept": ".p12,.pfx,application/x-pkcs12"})
    passphrase = PasswordField(_l("Passphrase of the file"),
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
