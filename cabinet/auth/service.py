"""Authentication rules: password check with lockout, TOTP, password changes, API tokens.

Every function here commits its own unit of work and writes the audit trail; a failed
login is recorded (and counted towards the lockout) even though the call then raises.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta

import pyotp
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from cabinet.audit import service as audit
from cabinet.auth import sessions
from cabinet.auth.models import ApiToken
from cabinet.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from cabinet.core.errors import (
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
    ValidationError,
)
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.users.models import User

TOTP_ISSUER = "e-Cabinet"


def _find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))


def _locked_error(user: User, now: datetime) -> TooManyRequests:
    seconds = max(1, int((user.locked_until - now).total_seconds()))
    minutes = math.ceil(seconds / 60)
    return TooManyRequests(
        _("Too many failed attempts. The account is locked; try again in %(m)d minute(s).", m=minutes),
        code="account_locked",
        retry_after=seconds,
    )


def _register_failure(user: User | None, username: str, reason: str) -> None:
    """Count a failed attempt, lock the account at the threshold, audit, commit."""
    now = utcnow()
    details = {"username": username[:64], "reason": reason}
    if user is not None:
        user.failed_logins += 1
        threshold = current_app.config["CABINET_LOCKOUT_THRESHOLD"]
        if user.failed_logins >= threshold:
            user.locked_until = now + timedelta(minutes=current_app.config["CABINET_LOCKOUT_MINUTES"])
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
            audit.record("auth.lockout", actor=user, object_type="user", object_id=user.id,
                         details=details)
    audit.record("auth.login_failed", actor=user, actor_name=username[:64],
                 object_type="user" if user else None, object_id=user.id if user else None,
                 details=details)
    db.session.commit()


def register_failure(user: User, reason: str) -> None:
    """Count a failed proof of identity outside the login (e.g. signing a ballot answer) towards
    the same lockout as failed logins. Commits."""
    _register_failure(user, user.username, reason)


def check_password(username: str, password: str) -> User:
    """First step of a login: the password. Returns the user, or raises.

    Raises :class:`TooManyRequests` while the account is locked (even for the right
    password), :class:`Unauthenticated` for a wrong username or password (one message for
    both, so the answer does not reveal which accounts exist), :class:`PermissionDenied`
    for a disabled account (said only once the password was right).
    """
    user = _find_user(username)
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        audit.record("auth.login_refused_locked", actor=user, object_type="user", object_id=user.id)
        db.session.commit()
        raise _locked_error(user, now)
    if not verify_password(user.password_hash if user else None, password):
        _register_failure(user, username, "password")
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise _locked_error(user, now)
        raise Unauthenticated(_("Wrong username or password."), code="invalid_credentials")
    if not user.active:
        audit.record("auth.login_refused_disabled", actor=user, object_type="user", object_id=user.id)
        db.session.commit()
        raise PermissionDenied(
            _("This account is disabled. Please contact the administrator."), code="account_disabled"
        )
    return user


def check_otp(user: User, code: str | None) -> None:
    """Second step, for users enrolled in TOTP. A code is accepted once (no replay)."""
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise _locked_error(user, now)
    code = (code or "").strip().replace(" ", "")
    if not code:
        raise Unauthenticated(_("Enter the 6-digit code from your authenticator app."),
                              code="otp_required")
    step = _matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        _register_failure(user, user.username, "otp")
        if user.locked_until is not None and user.locked_until > now:
            raise _locked_error(user, now)
        raise Unauthenticated(_("The verification code is wrong or has expired."),
                              code="invalid_otp")
    user.totp_last_step = step


def _matching_step(secret: str | None, code: str, now: datetime) -> int | None:
    """The time step at which ``code`` is valid (allowing one step of clock drift)."""
    if not secret or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def complete_login(user: User, *, via: str = "web") -> None:
    """Record a successful login: reset the failure counter, audit, upgrade the hash."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    audit.record("auth.login", actor=user, object_type="user", object_id=user.id, details={"via": via})
    db.session.commit()


def rehash_if_needed(user: User, password: str) -> None:
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()


def record_logout(user: User) -> None:
    audit.record("auth.logout", actor=user, object_type="user", object_id=user.id)
    db.session.commit()


# --- password -----------------------------------------------------------------------------


def change_own_password(user: User, current: str, new: str) -> None:
    """A user changes their own password; every other session of theirs ends."""
    if not verify_password(user.password_hash, current):
        _register_failure(user, user.username, "password_change")
        raise Unauthenticated(_("The current password is wrong."), code="invalid_credentials")
    problem = password_problem(new, username=user.username)
    if problem:
        raise ValidationError(problem, details={"fields": {"new_password": problem}})
    if verify_password(user.password_hash, new):
        message = _("The new password must differ from the current one.")
        raise ValidationError(message, details={"fields": {"new_password": message}})
    user.password_hash = hash_password(new)
    user.must_change_password = False
    sessions.revoke_all(user, "password_changed")
    user.rotate_session_version()
    revoke_all_tokens(user, commit=False)
    audit.record("user.password_changed", actor=user, object_type="user", object_id=user.id)
    db.session.commit()


# --- TOTP -----------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def enable_totp(user: User, secret: str, code: str) -> None:
    """Finish enrolment: the user proves their app holds ``secret`` by giving a valid code."""
    if user.totp_enabled:
        raise ValidationError(_("Two-step verification is already on."))
    step = _matching_step(secret, (code or "").strip().replace(" ", ""), utcnow())
    if step is None:
        message = _("The code does not match. Check the time on your phone and try again.")
        raise ValidationError(message, details={"fields": {"code": message}})
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    audit.record("user.totp_enabled", actor=user, object_type="user", object_id=user.id)
    db.session.commit()


def disable_own_totp(user: User, password: str, code: str) -> None:
    """The user turns the second factor off, proving both factors once more."""
    if not verify_password(user.password_hash, password):
        _register_failure(user, user.username, "totp_disable")
        raise Unauthenticated(_("The current password is wrong."), code="invalid_credentials")
    check_otp(user, code)
    _clear_totp(user)
    audit.record("user.totp_disabled", actor=user, object_type="user", object_id=user.id)
    db.session.commit()


def _clear_totp(user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None


# --- API tokens -------------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(user: User, *, label: str = "api") -> tuple[str, ApiToken]:
    """Create a bearer token for ``user``; the raw value is returned once and never stored."""
    raw = "cab_" + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        token_hash=_digest(raw),
        label=label[:100],
        expires_at=utcnow() + timedelta(hours=current_app.config["CABINET_TOKEN_HOURS"]),
    )
    db.session.add(token)
    db.session.flush()
    audit.record("auth.token_issued", actor=user, object_type="api_token", object_id=token.id,
                 details={"label": token.label, "expires_at": token.expires_at.isoformat()})
    db.session.commit()
    return raw, token


def token_from_raw(raw: str) -> ApiToken | None:
    """The usable token with this raw value, or None (unknown, expired, revoked, disabled user)."""
    if not raw:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(raw)))
    now = utcnow()
    if token is None or not token.is_usable(now):
        return None
    # Write last_used_at at most once a minute: reading the API must not mean a write each call.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        db.session.commit()
    return token


def revoke_token(token: ApiToken, *, actor: User) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("auth.token_revoked", actor=actor, object_type="api_token", object_id=token.id)
        db.session.commit()


def revoke_all_tokens(user: User, *, commit: bool = True) -> int:
    """Revoke every live token of ``user``; returns how many."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if commit:
        db.session.commit()
    return result.rowcount or 0


__all__ = [
    "check_password", "check_otp", "complete_login", "record_logout", "change_own_password",
    "new_totp_secret", "totp_uri", "enable_totp", "disable_own_totp", "issue_token",
    "token_from_raw", "revoke_token", "revoke_all_tokens", "rehash_if_needed",
]
