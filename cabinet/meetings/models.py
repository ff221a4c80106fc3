"""Meetings, their participants, agenda items and members' pre-meeting positions (D2–D9)."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.extensions import db
from cabinet.users.models import User


class MeetingKind(StrEnum):
    """D5."""

    REGULAR = "regular"
    THEMATIC = "thematic"
    EXTRAORDINARY = "extraordinary"
    ONLINE = "online"

    @property
    def label(self) -> str:
        return str(MEETING_KIND_LABELS[self])


MEETING_KIND_LABELS = {
    MeetingKind.REGULAR: _l("Regular meeting (thường kỳ)"),
    MeetingKind.THEMATIC: _l("Thematic meeting (chuyên đề)"),
    MeetingKind.EXTRAORDINARY: _l("Extraordinary meeting (bất thường)"),
    MeetingKind.ONLINE: _l("Online meeting (trực tuyến)"),
}


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class ParticipantRole(StrEnum):
    """D2: the role someone has in one meeting."""

    CHAIR = "chair"
    MEMBER = "member"
    SECRETARY = "secretary"
    GUEST = "guest"

    @property
    def label(self) -> str:
        return str(PARTICIPANT_ROLE_LABELS[self])


PARTICIPANT_ROLE_LABELS = {
    ParticipantRole.CHAIR: _l("Chair (chủ tọa)"),
    ParticipantRole.MEMBER: _l("Member"),
    ParticipantRole.SECRETARY: _l("Secretary (thư ký)"),
    ParticipantRole.GUEST: _l("Guest"),
}


class Attendance(StrEnum):
    INVITED = "invited"  # no answer yet
    CONFIRMED = "confirmed"
    ABSENT = "absent"


class DeputyStatus(StrEnum):
    """D3: a deputy (người dự thay) needs the chair's approval."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AgendaStatus(StrEnum):
    PLANNED = "planned"
    IN_DISCUSSION = "in_discussion"
    CONCLUDED = "concluded"
    DEFERRED = "deferred"

    @property
    def label(self) -> str:
        return str(AGENDA_STATUS_LABELS[self])


AGENDA_STATUS_LABELS = {
    AgendaStatus.PLANNED: _l("Planned"),
    AgendaStatus.IN_DISCUSSION: _l("In discussion"),
    AgendaStatus.CONCLUDED: _l("Concluded"),
    AgendaStatus.DEFERRED: _l("Deferred"),
}


class Stance(StrEnum):
    """D9: a member's position on an item before the meeting."""

    AGREE = "agree"  # Thống nhất
    COMMENT = "comment"  # Có ý kiến (text required)
    DEBATE = "debate"  # Đề nghị thảo luận

    @property
    def label(self) -> str:
        return str(STANCE_LABELS[self])


STANCE_LABELS = {
    Stance.AGREE: _l("Agree (Thống nhất)"),
    Stance.COMMENT: _l("Has comments (Có ý kiến)"),
    Stance.DEBATE: _l("Asks for debate (Đề nghị thảo luận)"),
}


class Meeting(db.Model):
    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(MeetingKind)})", name="kind"),
        CheckConstraint(f"status IN ({sql_in(MeetingStatus)})", name="status"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_meetings_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default=MeetingKind.REGULAR.value)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place: Mapped[str] = mapped_column(String(300), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default=MeetingStatus.SCHEDULED.value)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agenda_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agenda_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # iCalendar SEQUENCE: raised on every change a calendar must show (time, place, cancel).
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="Participant.id")
    agenda_items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="AgendaItem.position")

    @property
    def is_cancelled(self) -> bool:
        return self.status == MeetingStatus.CANCELLED

    @property
    def kind_enum(self) -> MeetingKind:
        return MeetingKind(self.kind)

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def chair(self) -> User | None:
        for participant in self.participants:
            if participant.role == ParticipantRole.CHAIR:
                return participant.user
        return None

    def participant_for(self, user_id: int) -> Participant | None:
        for participant in self.participants:
            if participant.user_id == user_id:
                return participant
        return None


class Participant(db.Model):
    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id", name="uq_participants_meeting_user"),
        CheckConstraint(f"role IN ({sql_in(ParticipantRole)})", name="role"),
        CheckConstraint(f"attendance IN ({sql_in(Attendance)})", name="attendance"),
        CheckConstraint(f"deputy_status IS NULL OR deputy_status IN ({sql_in(DeputyStatus)})",
                        name="deputy_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=ParticipantRole.MEMBER.value)
    attendance: Mapped[str] = mapped_column(String(20), default=Attendance.INVITED.value)
    absence_reason: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deputy_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    deputy_status: Mapped[str | None] = mapped_column(String(20))
    deputy_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting: Mapped[Meeting] = relationship(back_populates="participants")
    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    deputy: Mapped[User | None] = relationship(foreign_keys=[deputy_id], lazy="joined")

    @property
    def role_enum(self) -> ParticipantRole:
        return ParticipantRole(self.role)

    @property
    def votes(self) -> bool:
        """Only members (and the chair) vote; deputies, secretaries and guests never (D3, D1)."""
        return self.role in (ParticipantRole.CHAIR, ParticipantRole.MEMBER)


class AgendaItem(db.Model):
    __tablename__ = "agenda_items"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(AgendaStatus)})", name="status"),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    presenter_organisation: Mapped[str] = mapped_column(String(200), default="")
    presenter_name: Mapped[str] = mapped_column(String(200), default="")
    minutes: Mapped[int] = mapped_column(Integer, default=15)
    status: Mapped[str] = mapped_column(String(20), default=AgendaStatus.PLANNED.value)
    conclusion: Mapped[str] = mapped_column(Text, default="")
    # D9: the chair marks items nobody asked to debate; they pass in one block.
    passes_without_debate: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="agenda_items")
    positions: Mapped[list[Position]] = relationship(back_populates="item", cascade="all, delete-orphan")

    @property
    def status_enum(self) -> AgendaStatus:
        return AgendaStatus(self.status)


class AgendaChange(db.Model):
    """A change to an agenda after the chair approved it, shown to participants (D8)."""

    __tablename__ = "agenda_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the item may have been deleted
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))  # added, edited, removed, reordered
    summary: Mapped[dict] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Position(db.Model):
    """A member's position on an agenda item before the meeting (D9)."""

    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id", name="uq_positions_item_user"),
        CheckConstraint(f"stance IN ({sql_in(Stance)})", name="stance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    stance: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    item: Mapped[AgendaItem] = relationship(back_populates="positions")
    user: Mapped[User] = relationship(lazy="joined")


class CalendarFeed(db.Model):
    """A user's secret iCalendar URL token (only its hash is stored; it can be renewed)."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)
