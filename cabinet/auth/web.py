"""Browser sessions: loading the user, session expiry, the forced password change."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from cabinet.core.timeutil import utcnow
from cabinet.extensions import db, login_manager
from cabinet.users.models import User

# Endpoints a user who must change their password may still reach.
_ALLOWED_WHILE_CHANGING = {"account.password", "auth.logout", "main.set_language", "static"}


def load_user_from_session_id(session_id: str) -> User | None:
    """Resolve Flask-Login's ``"<id>:<session_version>"``; a stale version means logged out."""
    try:
        user_id, version = session_id.split(":", 1)
        user = db.session.get(User, int(user_id))
    except (ValueError, TypeError):
        return None
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def session_expired() -> bool:
    """True when the browser session is older than ``CABINET_SESSION_MAX_HOURS`` (or has no login
    time): it must not be used any more, whatever door it comes through (pages, sockets)."""
    login_at = session.get("login_at")
    max_age = timedelta(hours=current_app.config["CABINET_SESSION_MAX_HOURS"])
    try:
        return login_at is None or utcnow() - datetime.fromisoformat(login_at) > max_age
    except (TypeError, ValueError):
        return True


def configure_login_manager(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_from_session_id)

    @app.before_request
    def _session_rules():
        if request.endpoint in (None, "static") or request.blueprint == "api":
            return None
        if not current_user.is_authenticated:
            return None
        if session_expired():
            logout_user()
            session.clear()
            from flask import flash

            flash(_l("Your session has ended. Please log in again."), "info")
            return redirect(url_for("auth.login", next=request.full_path))
        if current_user.must_change_password and request.endpoint not in _ALLOWED_WHILE_CHANGING:
            return redirect(url_for("account.password"))
        return None
