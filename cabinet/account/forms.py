from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo

from cabinet.core.forms import max_length, required

_code_kw = {"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 7}


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[required()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[required(), max_length(256)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[required(), EqualTo("new_password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class TotpEnableForm(FlaskForm):
    code = StringField(_l("Code shown by the app"), validators=[required(), max_length(7)],
                       render_kw=_code_kw)


class TotpDisableForm(FlaskForm):
    password = PasswordField(_l("Current password"), validators=[required()],
                             render_kw={"autocomplete": "current-password"})
    code = StringField(_l("Code shown by the app"), validators=[required(), max_length(7)],
                       render_kw=_code_kw)


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change something."""
