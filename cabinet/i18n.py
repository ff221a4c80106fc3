"""Language and time zone: Vietnamese first, English second; times shown in Hà Nội time."""

from __future__ import annotations

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


def register(app: Flask) -> None:
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["dt"] = short_datetime
    app.jinja_env.filters["time_only"] = time_only
    app.jinja_env.filters["weekday"] = weekday

    @app.context_processor
    def _languages():
        return {"languages": app.config["CABINET_LANGUAGES"], "current_locale": str(get_locale()),
                "now_utc": utcnow, "password_min_length": MIN_LENGTH}
