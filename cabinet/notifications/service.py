"""Notifications: written in the caller's transaction, delivered once it commits.

``notify()`` adds one row per user to the session and remembers what to deliver. Nothing leaves
the process before the caller commits: a SQLAlchemy ``after_commit`` hook then pushes
``notification.new`` to each user's sockets and queues the e-mail copies as background jobs.
A rolled-back transaction delivers nothing. We chose the hook over returning a "delivery"
object for the caller to hand to ``deliver()`` after its commit: callers (services, signal
handlers, jobs) cannot forget that step, nor take it before their commit.

Reading a notification (``mark_read``) changes only the reader's own inbox, not the record of
what the Government did: it is not written to the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction

from cabinet.core.errors import NotFound
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.extensions import db, socketio
from cabinet.notifications import mail
from cabinet.notifications.models import Notification
from cabinet.users.models import User

log = logging.getLogger(__name__)

MAX_LIST = 200
_PENDING = "cabinet.notifications.pending"  # key in Session.info


@dataclass(frozen=True)
class _Delivery:
    user_id: int
    notification_id: int
    payload: dict
    email: bool


# --- writing -------------------------------------------------------------------------------------------


def notify(user_ids: Iterable[int], *, kind: str, title: str, body: str = "", url: str = "",
           email: bool = True) -> list[Notification]:
    """Add a notification for each user (once per user) to the current transaction; the caller
    commits. After the commit each user's open sockets get ``notification.new`` and, when
    ``email`` is true, an e-mail copy is queued for those who have an address."""
    if url and (not url.startswith("/") or url.startswith("//")):
        raise ValueError("a notification's url is a path inside the app, e.g. /ballots/7")
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    now = utcnow()
    rows = [Notification(user_id=uid, kind=kind, title=title[:500], body=body, url=url, created_at=now)
            for uid in ids]
    db.session.add_all(rows)
    db.session.flush()
    counts = _unread_counts(ids)
    pending = db.session.info.setdefault(_PENDING, [])
    pending.extend(_Delivery(row.user_id, row.id, payload(row, counts.get(row.user_id, 0)), email)
                   for row in rows)
    return rows


def payload(notification: Notification, unread: int) -> dict:
    """What ``notification.new`` carries; ``unread`` is the user's count including this one."""
    return {"id": notification.id, "kind": notification.kind, "title": notification.title,
            "body": notification.body, "url": notification.url,
            "created_at": notification.created_at.isoformat(), "unread": unread}


def _unread_counts(user_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(select(Notification.user_id, func.count(Notification.id))
                              .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
                              .group_by(Notification.user_id))
    return {user_id: count for user_id, count in rows}


# --- delivery, after the commit ------------------------------------------------------------------------


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        deliver(pending)


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # A commit has already taken its deliveries (after_commit runs first); whatever is left when
    # the outermost transaction ends was rolled back or abandoned and must not go out.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def deliver(pending: list[_Delivery]) -> None:
    """Push each notification to its user's sockets and queue its e-mail. Runs after the commit,
    so a failure here (message queue or job store down) is logged and never undoes a change:
    the notification is in the database and shows on the user's next page."""
    from cabinet import jobs  # the job queue imports this module
    from cabinet.live.events import user_room

    for item in pending:
        try:
            socketio.emit("notification.new", item.payload, to=user_room(item.user_id))
        except Exception:
            log.warning("could not push notification %s to user %s", item.notification_id, item.user_id,
                        exc_info=True)
        if item.email:
            try:
                jobs.send_email(item.notification_id)
            except Exception as error:
                jobs.queue_failed(error, "could not queue the e-mail of notification %s",
                                  item.notification_id)


# --- reading -------------------------------------------------------------------------------------------


def unread_count(user: User) -> int:
    """How many of the user's notifications are unread (the top-bar badge)."""
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def list_for(user: User, limit: int = 50) -> list[Notification]:
    """The user's own notifications, newest first. Marks nothing as read."""
    limit = max(1, min(limit, MAX_LIST))
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.created_at.desc(), Notification.id.desc())
                                   .limit(limit)))


def mark_read(user: User, which: int | Literal["all"]) -> int:
    """Mark one of the user's notifications (or ``"all"`` of them) as read; returns how many
    changed. Someone else's notification is not found. The user's other devices are told the new
    unread count (``notification.read``)."""
    now = utcnow()
    if which == "all":
        changed = db.session.execute(
            update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=now).execution_options(synchronize_session=False)).rowcount or 0
        ids: list[int] | Literal["all"] = "all"
    else:
        valid = isinstance(which, int) and not isinstance(which, bool) and 0 < which <= MAX_ID
        notification = db.session.get(Notification, which) if valid else None
        if notification is None or notification.user_id != user.id:
            raise NotFound(_("No such notification."))
        changed = 0
        if notification.read_at is None:
            notification.read_at = now
            changed = 1
        ids = [notification.id]
    db.session.commit()
    if changed:
        _push_read(user.id, ids, unread_count(user))
        db.session.commit()  # end the counting transaction (SQLite holds its write lock in one)
    return changed


def _push_read(user_id: int, ids: list[int] | Literal["all"], unread: int) -> None:
    from cabinet.live.events import user_room

    try:
        socketio.emit("notification.read", {"ids": ids, "unread": unread}, to=user_room(user_id))
    except Exception:
        log.warning("could not push read notifications to user %s", user_id, exc_info=True)


# --- the e-mail copy (runs in a background job) --------------------------------------------------------


def email_copy(notification_id: int) -> bool:
    """Send the e-mail copy of a notification; True when one was sent. Nothing is sent when e-mail
    is off, the user has no address, or it already went. Raises when the SMTP server fails, so the
    job queue retries. No database transaction is open while the SMTP server is talked to."""
    settings = mail.settings_from(current_app.config)
    if settings is None:
        mail.log_disabled_once()
        return False
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.emailed_at is not None:
        db.session.rollback()
        return False
    user = db.session.get(User, notification.user_id)
    if user is None or not user.email or not user.active:
        db.session.rollback()
        return False
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        message = mail.compose(settings, to=(user.full_name, user.email), subject=notification.title,
                               body=_email_body(notification))
    db.session.rollback()  # end the read transaction before the network call
    mail.send(settings, message)
    db.session.execute(update(Notification).where(Notification.id == notification_id)
                       .values(emailed_at=utcnow()))
    db.session.commit()
    return True


def _email_body(notification: Notification) -> str:
    parts = [notification.title, ""]
    if notification.body:
        parts += [notification.body, ""]
    if notification.url:
        parts += [_("Open it in e-Cabinet:"), current_app.config["CABINET_BASE_URL"] + notification.url, ""]
    parts += ["-- ", _("This message was sent by e-Cabinet. Do not reply to it; answer in e-Cabinet.")]
    return "\n".join(parts) + "\n"
