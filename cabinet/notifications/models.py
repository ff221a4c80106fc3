"""A notification: one message to one user, shown in the app (the bell in the top bar) and, when
asked, sent by e-mail too. Rows are written in the transaction of the change they tell about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime
from cabinet.extensions import db


class Notification(db.Model):
    __tablename__ = "notifications"
    # The badge counts a user's unread notifications; the list reads a user's newest ones.
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

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
    # Set once the e-mail copy went out: a retried or duplicated job never mails twice.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def unread(self) -> bool:
        return self.read_at is None
