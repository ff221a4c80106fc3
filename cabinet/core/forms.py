"""Form validators with translated messages.

WTForms ships no Vietnamese catalogue, so its built-in messages would appear in English on a
Vietnamese page; these wrappers give every validator a message of ours.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, Length


def required() -> DataRequired:
    return DataRequired(message=_l("This field is required."))


def max_length(limit: int) -> Length:
    return Length(max=limit, message=_l("At most %(max)d characters."))


def show_service_errors(form, exc, aliases: dict[str, str] | None = None) -> None:
    """Put a service's per-field messages next to the form's fields; the summary goes on top.

    ``aliases`` maps a service field name to the form field that shows it (``starts_at`` → ``start``).
    """
    from flask import flash

    fields = (exc.details or {}).get("fields", {}) if isinstance(exc.details, dict) else {}
    for name, message in fields.items():
        target = (aliases or {}).get(name, name)
        if target in form:
            form[target].errors = [*form[target].errors, message]
    flash(exc.message, "error")
