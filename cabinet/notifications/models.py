"""A notification: one message to one user, shown in the app (the bell in the top bar) and, when
asked, sent by e-mail too. Rows are written in the transaction of the change they tell about.

Also here: each user's e-mail preferences (per group of notifications) and the record of the
meeting reminders sent, which makes a reminder go out once however many workers run the tick."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime
from cabinet.extensions import db


class Notification(db.Model):
    __tablename__ = "notifications"
    # The badge counts a user's unread notifications; the list reads a user's newest ones; the
    # e-mail outbox looks for copies due and not sent.
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),
                      Index("ix_notifications_outbox", "email_due", "emailed_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # What happened, as a dotted name: ballot.issued, ballot.reminder, ballot.closed, ballot.decided…
    kind: Mapped[str] = mapped_column(String(40))
    # Written in the recipient's language when the notification is created.
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")  # relative, inside the app: /ballots/7
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An e-mail copy should go out (the caller asked, the user's preference allows it and they
    # have an address). With emailed_at still empty, the outbox re-queues it (jobs.py).
    email_due: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Set once the e-mail copy went out: a retried or duplicated job never mails twice.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def unread(self) -> bool:
        return self.read_at is None


class NotificationPreference(db.Model):
    """Whether a user wants the e-mail copy of each group of notifications. No row: all on.
    The in-app notification is always written; only the e-mail follows these."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    meetings: Mapped[bool] = mapped_column(default=True, server_default=true())
    documents: Mapped[bool] = mapped_column(default=True, server_default=true())
    ballots: Mapped[bool] = mapped_column(default=True, server_default=true())
    minutes: Mapped[bool] = mapped_column(default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MeetingReminder(db.Model):
    """A meeting reminder sent to one user for one start time. The unique key is what makes it
    exactly once: a second worker's insert fails and it sends nothing. A rescheduled meeting
    (another start time) is reminded again."""

    __tablename__ = "meeting_reminders"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id", "starts_at",
                                       name="uq_meeting_reminders_meeting_user_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
