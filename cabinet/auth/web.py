"""Browser sessions: loading the user, the server-side session row, the forced password change."""

from __future__ import annotations

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from cabinet.auth import sessions
from cabinet.auth.models import BrowserSession
from cabinet.extensions import db, login_manager
from cabinet.users.models import User

# Endpoints a user who must change their password may still reach.
_ALLOWED_WHILE_CHANGING = {"account.password", "auth.logout", "main.set_language", "static"}

#: The key of the browser session's token in Flask's signed cookie.
SESSION_KEY = "browser_session"


def load_user_from_session_id(session_id: str) -> User | None:
    """Resolve Flask-Login's ``"<id>:<session_version>"``; a stale version means logged out."""
    try:
        user_id, version = session_id.split(":", 1)
        user = db.session.get(User, int(user_id))
    except (ValueError, TypeError, AttributeError):
        return None
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def live_browser_session() -> BrowserSession | None:
    """This request's browser session row when it is live (not revoked, not past its maximum
    age), else None. Looked up once per request (or socket event)."""
    if "browser_session" not in g:
        g.browser_session = sessions.find_live(session.get(SESSION_KEY))
    return g.browser_session


def _load_browser_user(session_id: str) -> User | None:
    """Flask-Login's user loader for pages and sockets: the user's session version must be current
    *and* the browser's session row live — a copied cookie of a logged-out session loads nobody."""
    user = load_user_from_session_id(session_id)
    if user is None:
        return None
    row = live_browser_session()
    if row is None or row.user_id != user.id:
        return None
    return user


def begin_session(user: User) -> None:
    """Sign this browser in as ``user``: Flask-Login's identity plus a new session row whose token
    goes in the signed cookie. The caller clears the old session first when it must."""
    login_user(user)
    session.permanent = True
    raw, row = sessions.start(user, ip=request.remote_addr, user_agent=request.user_agent.string)
    session[SESSION_KEY] = raw
    g.browser_session = row


def end_session(reason: str = "logout") -> None:
    """Log this browser out, on the server too (its row is revoked), and forget the cookie."""
    sessions.end(session.get(SESSION_KEY), reason=reason)
    logout_user()
    session.clear()
    g.pop("browser_session", None)


def configure_login_manager(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_browser_user)

    @app.before_request
    def _session_rules():
        if request.endpoint in (None, "static") or request.blueprint == "api":
            return None
        signed_in = "_user_id" in session
        if signed_in and not current_user.is_authenticated:
            # Logged out elsewhere, revoked, disabled, or past the maximum age: forget the
            # cookie, say so once, and send the browser to log in again.
            logout_user()
            session.clear()
            flash(_l("Your session has ended. Please log in again."), "info")
            if request.endpoint == "auth.login":
                return None
            # Back to this page after logging in; not to a form's target (a GET of it fails).
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("auth.login", next=target))
        if not current_user.is_authenticated:
            return None
        if current_user.must_change_password and request.endpoint not in _ALLOWED_WHILE_CHANGING:
            return redirect(url_for("account.password"))
        return None
