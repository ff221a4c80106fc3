"""Login (password, then the second factor when enrolled) and logout pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from cabinet.auth import service, sessions
from cabinet.auth.forms import LoginForm, OtpForm
from cabinet.auth.web import (
    begin_session,
    end_session,
    live_browser_session,
    load_user_from_session_id,
)
from cabinet.core.errors import DomainError
from cabinet.core.timeutil import utcnow
from cabinet.extensions import limiter

bp = Blueprint("auth", __name__)

PENDING_OTP_MINUTES = 5


def _login_limit() -> str:
    return current_app.config["CABINET_LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect to another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.home")


def _finish_login(user, next_url: str | None):
    service.complete_login(user)
    # A new session for a new login: nothing from before survives (session fixation).
    session.clear()
    begin_session(user)  # a server-side session row: logging out ends it even for a copied cookie
    if user.must_change_password:
        flash(_("Please choose a new password before you continue."), "warning")
        return redirect(url_for("account.password"))
    return redirect(_safe_next(next_url))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = service.check_password(form.username.data, form.password.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            service.rehash_if_needed(user, form.password.data)
            next_url = request.args.get("next")
            if user.totp_enabled:
                session.clear()
                session["pending_user"] = user.get_id()
                session["pending_at"] = utcnow().isoformat()
                session["pending_next"] = next_url
                return redirect(url_for("auth.verify"))
            return _finish_login(user, next_url)
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def verify():
    if current_user.is_authenticated:
        # Logged in already: the page must not clear the session below (a link or an image
        # pointing here would otherwise log the user out — a logout without the CSRF check).
        return redirect(url_for("main.home"))
    pending = session.get("pending_user")
    started = session.get("pending_at")
    user = load_user_from_session_id(pending) if pending else None
    expired = started is None or utcnow() - datetime.fromisoformat(started) > timedelta(
        minutes=PENDING_OTP_MINUTES)
    if user is None or expired:
        session.clear()
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    form = OtpForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.check_otp(user, form.code.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
            if exc.status == 429:
                session.clear()
                return redirect(url_for("auth.login"))
        else:
            return _finish_login(user, session.get("pending_next"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/verify.html", form=form, user=user), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    service.record_logout(current_user._get_current_object())
    end_session("logout")
    flash(_("You have logged out."), "info")
    response = redirect(url_for("auth.login"))
    # Nothing of this account stays on the device: offline copies, queues, the service worker.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


# --- the user's devices (the account page's "Your devices") ---------------------------------------


@bp.app_template_global()
def my_devices() -> list[dict]:
    """The signed-in user's live browser sessions, for templates/account/_sessions.html: plain
    words for the browser, the address, the times, and which one is this device."""
    current = live_browser_session()
    devices = []
    for row in sessions.active_sessions(current_user._get_current_object()):
        browser, system = sessions.describe_user_agent(row.user_agent)
        if browser and system:
            label = _("%(browser)s on %(system)s", browser=browser, system=system)
        else:
            label = browser or system or _("Unknown browser")
        devices.append({"id": row.id, "label": label, "ip": row.ip, "created_at": row.created_at,
                        "last_seen_at": row.last_seen_at,
                        "current": current is not None and current.id == row.id})
    return devices


@bp.route("/account/sessions/<int:session_id>/revoke", methods=["POST"])
@login_required
def revoke_session(session_id: int):
    """Log out one of one's own devices (another person's session: 404)."""
    sessions.revoke_own_session(current_user._get_current_object(), session_id)
    flash(_("That device was logged out."), "success")
    return redirect(url_for("account.index", _anchor="devices"))


@bp.route("/account/sessions/revoke-others", methods=["POST"])
@login_required
def revoke_other_sessions():
    """Log out every device of the user except this one."""
    current = live_browser_session()
    count = sessions.revoke_other_sessions(current_user._get_current_object(),
                                           current.id if current else None)
    flash(ngettext("%(num)d other device was logged out.", "%(num)d other devices were logged out.",
                   count), "success")
    return redirect(url_for("account.index", _anchor="devices"))
