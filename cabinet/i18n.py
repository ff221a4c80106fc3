"""Language and time zone: Vietnamese first, English second; times shown in Hà Nội time."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from cabinet.auth.passwords import MIN_LENGTH
from cabinet.core.timeutil import utcnow

SUPPORTED = ("vi", "en")


def select_locale() -> str:
    if not has_request_context():  # command line, background jobs
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(SUPPORTED) or current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in SUPPORTED:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in SUPPORTED:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["CABINET_TIMEZONE"]


def local(value: datetime) -> datetime:
    return value.astimezone(ZoneInfo(current_app.config["CABINET_TIMEZONE"]))


def vietnamese_date(value: datetime) -> str:
    """The date line of Nghị định 30/2020, Phụ lục I: days below 10 and the months
    January and February take a leading zero (``ngày 05 tháng 3``, ``ngày 20 tháng 02``)."""
    month = f"{value.month:02d}" if value.month < 3 else str(value.month)
    return f"ngày {value.day:02d} tháng {month} năm {value.year}"


def long_date(value: datetime | None) -> str:
    """``ngày 05 tháng 3 năm 2026`` in Vietnamese (Nghị định 30/2020 style), a long date in English."""
    if value is None:
        return ""
    value = local(value)
    if str(get_locale()) == "vi":
        return vietnamese_date(value)
    return format_datetime(value, "d MMMM yyyy")


def short_datetime(value: datetime | None) -> str:
    """``14:05 05/03/2026`` in Vietnamese, ``5 Mar 2026, 14:05`` in English."""
    if value is None:
        return ""
    value = local(value)
    if str(get_locale()) == "vi":
        return value.strftime("%H:%M %d/%m/%Y")
    return format_datetime(value, "d MMM yyyy, HH:mm")


def time_only(value: datetime | None) -> str:
    return local(value).strftime("%H:%M") if value is not None else ""


def weekday(value: datetime | None) -> str:
    """``Thứ Hai`` / ``Monday``."""
    return format_datetime(local(value), "EEEE").capitalize() if value is not None else ""


# Vietnamese alphabetical order: a ă â b c d đ e ê … o ô ơ … u ư …, tones after the letter.
_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền hỏi ngã sắc nặng


def _letters_key(word: str) -> tuple:
    letters, tones = [], []
    for char in unicodedata.normalize("NFC", word.lower()):
        base = unicodedata.normalize("NFD", char)
        tone = next((_TONES[m] for m in base if m in _TONES), 0)
        bare = unicodedata.normalize("NFC", "".join(m for m in base if m not in _TONES))
        letters.append(_ALPHABET.index(bare) if bare in _ALPHABET else 100 + ord(bare[0]))
        tones.append(tone)
    return (tuple(letters), tuple(tones))


def vietnamese_name_key(full_name: str) -> tuple:
    """Sort people as Vietnamese lists do: by given name (the last word), then the whole name,
    in the Vietnamese alphabet (đ after d, ơ after ô, tones after the bare letter)."""
    words = full_name.split()
    return (_letters_key(words[-1]) if words else (), _letters_key(full_name))


def register(app: Flask) -> None:
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["dt"] = short_datetime
    app.jinja_env.filters["time_only"] = time_only
    app.jinja_env.filters["weekday"] = weekday

    @app.context_processor
    def _languages():
        return {"languages": app.config["CABINET_LANGUAGES"], "current_locale": str(get_locale()),
                "now_utc": utcnow, "password_min_length": MIN_LENGTH}
