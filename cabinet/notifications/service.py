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
from datetime import datetime, timedelta
from typing import Literal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction

from cabinet.audit import service as audit
from cabinet.core.errors import NotFound
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.extensions import db, socketio
from cabinet.notifications import mail
from cabinet.notifications.models import Notification, NotificationPreference
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


# --- groups and e-mail preferences ---------------------------------------------------------------------

#: The groups a user chooses e-mail for, and the kinds (by their first part) in each.
GROUPS: dict[str, tuple[str, ...]] = {
    "meetings": ("meeting",),
    "documents": ("documents", "document"),
    "ballots": ("ballot",),
    "minutes": ("minutes",),
}

#: Kinds whose e-mail goes out whatever the preference. Both ask something of the reader that
#: cannot wait for their next visit: only the person told can sign the minutes (the legal record
#: of the meeting waits on them, D11), and a member not told of a cancellation travels to a meeting
#: that does not happen. Everything else can wait in the app.
MANDATORY_EMAIL = frozenset({"minutes.sign", "meeting.cancelled"})


def group_of(kind: str) -> str | None:
    """The preference group of a notification kind (``meeting.changed`` → ``meetings``), or None
    for a kind outside every group (its e-mail always goes, as before preferences existed)."""
    head = kind.split(".", 1)[0]
    return next((group for group, heads in GROUPS.items() if head in heads), None)


def _kind_filter(group: str):
    return or_(*(Notification.kind.like(f"{head}.%") for head in GROUPS[group]))


def preferences_for(user_id: int) -> dict[str, bool]:
    """The user's e-mail choice per group; every group is on until they turn it off."""
    row = db.session.get(NotificationPreference, user_id)
    return {group: (getattr(row, group) if row is not None else True) for group in GROUPS}


def set_preferences(user: User, choices: dict[str, bool]) -> dict[str, bool]:
    """Change the user's own e-mail preferences (only theirs: the user is the one acting) and
    record the change in the audit trail; returns the new preferences. Unknown groups are refused."""
    unknown = set(choices) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown notification groups: {sorted(unknown)}")
    before = preferences_for(user.id)
    row = db.session.get(NotificationPreference, user.id)
    if row is None:
        row = NotificationPreference(user_id=user.id)
        db.session.add(row)
    for group in GROUPS:
        setattr(row, group, bool(choices.get(group, before[group])))
    after = {group: getattr(row, group) for group in GROUPS}
    changed = {group: [before[group], after[group]] for group in GROUPS if before[group] != after[group]}
    if changed:
        audit.record("account.notification_preferences", actor=user, object_type="user",
                     object_id=user.id, details={"email": changed})
    db.session.commit()
    return after


def _wants_email(kind: str, preferences: dict[str, bool]) -> bool:
    if kind in MANDATORY_EMAIL:
        return True
    group = group_of(kind)
    return group is None or preferences.get(group, True)


def _email_recipients(user_ids: list[int], kind: str) -> set[int]:
    """Of these users, those whose e-mail copy of ``kind`` is due: active, with an address, and
    wanting it (their preference, or a mandatory kind)."""
    users = {uid: (email, active) for uid, email, active in db.session.execute(
        select(User.id, User.email, User.active).where(User.id.in_(user_ids)))}
    rows = {row.user_id: row for row in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id.in_(user_ids)))}
    due = set()
    for uid in user_ids:
        email, active = users.get(uid, (None, False))
        if not email or not active:
            continue
        row = rows.get(uid)
        preferences = {g: (getattr(row, g) if row is not None else True) for g in GROUPS}
        if _wants_email(kind, preferences):
            due.add(uid)
    return due


# --- writing -------------------------------------------------------------------------------------------


def notify(user_ids: Iterable[int], *, kind: str, title: str, body: str = "", url: str = "",
           email: bool = True) -> list[Notification]:
    """Add a notification for each user (once per user) to the current transaction; the caller
    commits. After the commit each user's open sockets get ``notification.new`` and, when
    ``email`` is true and the user's preferences allow it (:data:`MANDATORY_EMAIL` kinds always
    do), an e-mail copy is queued for those who have an address. The row keeps ``email_due``, so
    a copy whose job was lost (job queue down) is queued again by the outbox."""
    if url and (not url.startswith("/") or url.startswith("//")):
        raise ValueError("a notification's url is a path inside the app, e.g. /ballots/7")
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    now = utcnow()
    mailed = _email_recipients(ids, kind) if email else set()
    rows = [Notification(user_id=uid, kind=kind, title=title[:500], body=body, url=url, created_at=now,
                         email_due=uid in mailed)
            for uid in ids]
    db.session.add_all(rows)
    db.session.flush()
    counts = _unread_counts(ids)
    pending = db.session.info.setdefault(_PENDING, [])
    pending.extend(_Delivery(row.user_id, row.id, payload(row, counts.get(row.user_id, 0)), row.email_due)
                   for row in rows)
    return rows


def payload(notification: Notification, unread: int) -> dict:
    """What ``notification.new`` carries; ``unread`` is the user's count including this one."""
    return {"id": notification.id, "kind": notification.kind, "title": notification.title,
            "body": notification.body, "url": notification.url,
            "created_at": notification.created_at.isoformat(), "unread": unread}


def item_json(notification: Notification) -> dict:
    """One notification as the bell's panel and the API show it."""
    return {"id": notification.id, "kind": notification.kind, "group": group_of(notification.kind),
            "title": notification.title, "body": notification.body, "url": notification.url,
            "created_at": notification.created_at.isoformat(), "read": not notification.unread}


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


def list_for(user: User, limit: int = 50, *, unread_only: bool = False,
             group: str | None = None) -> list[Notification]:
    """The user's own notifications, newest first; only the unread ones, or one group's, when
    asked. Marks nothing as read."""
    limit = max(1, min(limit, MAX_LIST))
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if group is not None:
        if group not in GROUPS:
            raise ValueError(f"unknown notification group {group!r}")
        stmt = stmt.where(_kind_filter(group))
    return list(db.session.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                                   .limit(limit)))


def unread_by_group(user: User) -> dict[str, int]:
    """How many unread notifications the user has in each group (the home page's counts)."""
    counts = dict.fromkeys(GROUPS, 0)
    rows = db.session.execute(select(Notification.kind, func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)).group_by(Notification.kind))
    for kind, count in rows:
        group = group_of(kind)
        if group is not None:
            counts[group] += count
    return counts


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
    if notification is None or notification.emailed_at is not None or not notification.email_due:
        db.session.rollback()
        return False
    user = db.session.get(User, notification.user_id)
    if user is None or not user.email or not user.active:
        # Nobody to write to (the address was removed since): the outbox stops asking.
        notification.email_due = False
        db.session.commit()
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


# --- the outbox: e-mail copies whose job was lost ------------------------------------------------------


def unsent_emails(now: datetime | None = None, *, limit: int = 100) -> list[int]:
    """Notifications whose e-mail copy is due but not sent, written between
    ``CABINET_EMAIL_OUTBOX_MAX_AGE_HOURS`` and ``CABINET_EMAIL_OUTBOX_DELAY_MINUTES`` ago, oldest
    first, at most ``limit``: their job was lost (the job queue was down when they were written)
    or gave up (the mail server was down for all its retries). Sending stays exactly once:
    :func:`email_copy` checks ``emailed_at``. Nothing when e-mail is off."""
    if mail.settings_from(current_app.config) is None:
        return []
    now = now or utcnow()
    config = current_app.config
    newest = now - timedelta(minutes=config["CABINET_EMAIL_OUTBOX_DELAY_MINUTES"])
    oldest = now - timedelta(hours=config["CABINET_EMAIL_OUTBOX_MAX_AGE_HOURS"])
    ids = list(db.session.scalars(
        select(Notification.id).where(Notification.email_due.is_(True), Notification.emailed_at.is_(None),
                                      Notification.created_at <= newest, Notification.created_at >= oldest)
        .order_by(Notification.id).limit(max(1, limit))))
    db.session.rollback()  # end the read transaction (SQLite)
    return ids
