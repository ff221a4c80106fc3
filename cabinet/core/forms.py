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
