from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Optional

from cabinet.core.forms import max_length, required
from cabinet.users.models import CLEARANCE_LABELS, ROLE_LABELS


def _role_choices():
    return [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


def _clearance_choices():
    return [SelectChoice(level.value, label) for level, label in CLEARANCE_LABELS.items()]


class UserForm(FlaskForm):
    """Profile, role and clearance; the username only when creating."""

    username = StringField(_l("Username"), validators=[Optional(), max_length(64)],
                           render_kw={"autocapitalize": "none", "spellcheck": "false"})
    full_name = StringField(_l("Full name"), validators=[required(), max_length(200)])
    title = StringField(_l("Title (chức vụ)"), validators=[max_length(200)])
    organisation = StringField(_l("Organisation"), validators=[max_length(200)])
    email = StringField(_l("E-mail"), validators=[Optional(), max_length(254)],
                        render_kw={"type": "email"})
    role = SelectField(_l("Role"), choices=_role_choices)
    clearance = SelectField(_l("Clearance"), choices=_clearance_choices)
    locale = SelectField(_l("Language"), choices=[SelectChoice("", "—"), SelectChoice("vi", "Tiếng Việt"),
                                                  SelectChoice("en", "English")])


class NewUserForm(UserForm):
    username = StringField(_l("Username"), validators=[required(), max_length(64)],
                           render_kw={"autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("Initial password"), validators=[required(), max_length(256)],
                             render_kw={"autocomplete": "new-password"})
    must_change_password = BooleanField(_l("Must change it at first login"), default=True)


class ResetPasswordForm(FlaskForm):
    reset_totp = BooleanField(_l("Also turn off two-step verification (lost phone)"))
