"""Forms of the login pages (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import Regexp

from cabinet.core.forms import max_length, required


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[required(), max_length(64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none",
                                      "spellcheck": "false", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[required(), max_length(256)],
                             render_kw={"autocomplete": "current-password"})


class OtpForm(FlaskForm):
    code = StringField(
        _l("Verification code"),
        validators=[required(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Six digits."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True,
                   "pattern": r"[0-9 ]*", "maxlength": 7},
    )
