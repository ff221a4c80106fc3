"""Browser sessions kept on the server: one row per signed-in browser (device).

Flask's session cookie is signed, not stored: on its own, a copied cookie would stay good after
its owner logged out. So the cookie also carries a random token whose SHA-256 names a row of
``browser_sessions``; a session is *live* while its row is neither revoked nor older than
``CABINET_SESSION_MAX_HOURS``. Pages and sockets both ask :func:`find_live` (through
cabinet.auth.web), so that is the one rule for "is this browser still signed in".

Every function here that changes rows commits its own unit of work and, after the commit, sends
``browser_sessions_ended`` so the sessions' open sockets are closed (cabinet.live.events).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update

from cabinet.audit import service as audit
from cabinet.auth.models import BrowserSession
from cabinet.core.errors import NotFound
from cabinet.core.signals import browser_sessions_ended, sessions_revoked
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.users.models import User

#: ``last_seen_at`` is written at most this often: a page view must not mean a database write.
LAST_SEEN_EVERY = timedelta(minutes=5)
#: Ended sessions are kept this long (the device list of an investigation), then deleted.
KEEP_ENDED = timedelta(days=30)
USER_AGENT_LIMIT = 255


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def max_age() -> timedelta:
    """How long a browser session may last after login, whatever the activity."""
    return timedelta(hours=current_app.config["CABINET_SESSION_MAX_HOURS"])


def is_live(row: BrowserSession, now: datetime | None = None) -> bool:
    """Neither revoked nor past its maximum age."""
    now = now or utcnow()
    return row.revoked_at is None and now - row.created_at <= max_age()


def start(user: User, *, ip: str | None, user_agent: str | None) -> tuple[str, BrowserSession]:
    """Record a new signed-in browser for ``user``; returns the raw token (for the signed cookie,
    never stored) and the row. Commits."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = BrowserSession(token_hash=_digest(raw), user_id=user.id, created_at=now, last_seen_at=now,
                         ip=(ip or None) and ip[:45], user_agent=(user_agent or "")[:USER_AGENT_LIMIT])
    db.session.add(row)
    db.session.commit()
    return raw, row


def find_live(raw: str | None) -> BrowserSession | None:
    """The live session named by the cookie's token, or None (unknown, revoked, too old). Notes
    the time it was last seen, at most every :data:`LAST_SEEN_EVERY`."""
    if not raw or not isinstance(raw, str):
        return None
    row = db.session.scalar(select(BrowserSession).where(BrowserSession.token_hash == _digest(raw)))
    now = utcnow()
    if row is None or not is_live(row, now):
        return None
    if now - row.last_seen_at > LAST_SEEN_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return row


def ended_among(ids: Iterable[int]) -> dict[int, str]:
    """Which of these session ids have ended, with why ("logout", "disabled"…, or "expired"):
    one query for all the sockets of a process."""
    ids = set(ids)
    if not ids:
        return {}
    now = utcnow()
    rows = {row.id: row for row in db.session.scalars(
        select(BrowserSession).where(BrowserSession.id.in_(ids)))}
    ended = {}
    for session_id in ids:
        row = rows.get(session_id)
        if row is None:
            ended[session_id] = "ended"
        elif row.revoked_at is not None:
            ended[session_id] = row.revoked_reason or "revoked"
        elif not is_live(row, now):
            ended[session_id] = "expired"
    return ended


def active_sessions(user: User) -> list[BrowserSession]:
    """The user's live sessions (their devices), most recently seen first."""
    cutoff = utcnow() - max_age()
    return list(db.session.scalars(
        select(BrowserSession)
        .where(BrowserSession.user_id == user.id, BrowserSession.revoked_at.is_(None),
               BrowserSession.created_at >= cutoff)
        .order_by(BrowserSession.last_seen_at.desc(), BrowserSession.id.desc())))


def _revoke(where, reason: str) -> list[int]:
    """Mark the live rows matching ``where`` revoked, in the caller's transaction; their ids."""
    ids = list(db.session.scalars(
        select(BrowserSession.id).where(*where, BrowserSession.revoked_at.is_(None))))
    if ids:
        db.session.execute(update(BrowserSession).where(BrowserSession.id.in_(ids))
                           .values(revoked_at=utcnow(), revoked_reason=reason))
    return ids


def _ended(ids: list[int], reason: str) -> None:
    if ids:
        browser_sessions_ended.send(None, session_ids=ids, reason=reason)


def end(raw: str | None, *, reason: str = "logout") -> None:
    """End the session of this cookie (logout): a copy of the cookie is refused from now on."""
    if not raw or not isinstance(raw, str):
        return
    ids = _revoke([BrowserSession.token_hash == _digest(raw)], reason)
    db.session.commit()
    _ended(ids, reason)


def revoke_own_session(user: User, session_id: int) -> int:
    """Log out one of ``user``'s devices. Someone else's session, or one already ended, is
    :class:`NotFound` (a person may not learn which sessions others have). Audited. Commits."""
    row = db.session.get(BrowserSession, session_id)
    if row is None or row.user_id != user.id or not is_live(row):
        raise NotFound(_("No such session among your devices."), code="session_not_found")
    ids = _revoke([BrowserSession.id == row.id], "logout_other_device")
    audit.record("auth.session_revoked", actor=user, object_type="user", object_id=user.id,
                 details={"count": len(ids), "session_id": row.id})
    db.session.commit()
    _ended(ids, "logout_other_device")
    return len(ids)


def revoke_other_sessions(user: User, current_id: int | None) -> int:
    """Log out every device of ``user`` but the one asking; returns how many. Audited. Commits."""
    where = [BrowserSession.user_id == user.id]
    if current_id is not None:
        where.append(BrowserSession.id != current_id)
    ids = _revoke(where, "logout_all_others")
    audit.record("auth.session_revoked", actor=user, object_type="user", object_id=user.id,
                 details={"count": len(ids), "all_others": True})
    db.session.commit()
    _ended(ids, "logout_all_others")
    return len(ids)


def revoke_all(user: User, reason: str) -> list[int]:
    """Revoke every live session of ``user`` in the caller's transaction (the caller commits and
    audits: a password change, a disabled account…). Returns their ids."""
    return _revoke([BrowserSession.user_id == user.id], reason)


def _reason_for(user: User) -> str:
    """Why a user's sessions were all ended, read from the user as the change left it."""
    if not user.active:
        return "disabled"
    if user.must_change_password:
        return "password_reset"
    return "access_changed"


@sessions_revoked.connect
def _revoke_with_the_session_version(user: User, **_kwargs) -> None:
    """Whatever bumps ``user.session_version`` (disable, reset, demotion, password change) revokes
    the rows too, in the same transaction: the device list then shows no ended session as live.
    (The sockets of the user are told by cabinet.live.events, which listens to the same signal.)"""
    revoke_all(user, _reason_for(user))


def prune(now: datetime | None = None) -> int:
    """Delete the sessions revoked, or expired, more than :data:`KEEP_ENDED` ago; how many.
    Commits. Run daily by the job queue."""
    now = now or utcnow()
    cutoff = now - KEEP_ENDED
    result = db.session.execute(delete(BrowserSession).where(or_(
        BrowserSession.revoked_at < cutoff,
        BrowserSession.created_at < cutoff - max_age(),
    )))
    db.session.commit()
    return result.rowcount or 0


def describe_user_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """The browser and the system in plain words ("Chrome", "Windows"), or None when unknown.
    A rough reading, for a person to recognise their own devices: not a security check."""
    ua = user_agent or ""
    browser = None
    for marker, name in (("Edg/", "Edge"), ("EdgA/", "Edge"), ("OPR/", "Opera"),
                         ("coc_coc_browser", "Cốc Cốc"), ("SamsungBrowser", "Samsung Internet"),
                         ("Firefox/", "Firefox"), ("FxiOS", "Firefox"), ("CriOS", "Chrome"),
                         ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari")):
        if marker in ua:
            browser = name
            break
    system = None
    for marker, name in (("iPad", "iPad"), ("iPhone", "iPhone"), ("Android", "Android"),
                         ("Windows", "Windows"), ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"),
                         ("Macintosh", "macOS"), ("Linux", "Linux")):
        if marker in ua:
            system = name
            break
    return browser, system


__all__ = [
    "LAST_SEEN_EVERY", "KEEP_ENDED", "max_age", "is_live", "start", "find_live", "ended_among",
    "active_sessions", "end", "revoke_own_session", "revoke_other_sessions", "revoke_all", "prune",
    "describe_user_agent",
]
