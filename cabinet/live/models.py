"""What happens in the meeting room, kept in the database so a restart or a second worker
loses nothing: the meeting's progress, check-ins, the speakers' list and votes (D6, D7, D10).

Secret votes (D10) are stored so that no one — not an administrator, not a database dump —
can tie a choice to a member: who has voted is one table (:class:`VoteBallot`, with no choice
for a secret vote), how many chose what is another (:class:`VoteCount`, with no voter). A secret
voter may change their choice only by presenting the receipt their device was given, whose
hash is all the server keeps.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.extensions import db
from cabinet.meetings.models import AgendaItem, Meeting
from cabinet.users.models import User


class MeetingProgress(db.Model):
    """A meeting's live state: opened, closed, which agenda item is on the table."""

    __tablename__ = "meeting_progress"

    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    current_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    # The default time a speaker is given, in seconds; the chair may give more or less per turn.
    speaking_seconds: Mapped[int] = mapped_column(Integer, default=300)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship()
    current_item: Mapped[AgendaItem | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None and self.closed_at is None


class CheckIn(db.Model):
    """Someone is in the room (D6). Members check themselves in; the secretary may mark anyone.

    ``deputy_for_id`` is set when a deputy (D3) checks in for an absent member: shown, logged,
    but never counted towards quorum or votes.
    """

    __tablename__ = "check_ins"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id", name="uq_check_ins_meeting_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    deputy_for_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class SpeakerStatus(StrEnum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"
    WITHDRAWN = "withdrawn"


class SpeakerRequest(db.Model):
    """A request to speak; at most one open request per person and one speaker per meeting,
    enforced by partial unique indexes (both databases support them)."""

    __tablename__ = "speaker_requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(SpeakerStatus)})", name="status"),
        CheckConstraint("limit_seconds IS NULL OR limit_seconds > 0", name="limit_positive"),
        Index("uq_speaker_requests_open", "meeting_id", "user_id", unique=True,
              sqlite_where=db.text("status IN ('waiting', 'speaking')"),
              postgresql_where=db.text("status IN ('waiting', 'speaking')")),
        Index("uq_speaker_requests_speaking", "meeting_id", unique=True,
              sqlite_where=db.text("status = 'speaking'"),
              postgresql_where=db.text("status = 'speaking'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default=SpeakerStatus.WAITING.value)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    limit_seconds: Mapped[int | None] = mapped_column(Integer)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class VoteStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Outcome(StrEnum):
    """The result of a vote under D7, or ``counted`` for a vote with custom options."""

    PASSED = "passed"
    REJECTED = "rejected"
    PASSED_BY_CHAIR = "passed_by_chair"  # a tie, the chair voted for
    REJECTED_BY_CHAIR = "rejected_by_chair"  # a tie, the chair voted against
    TIE = "tie"  # a tie the chair's vote cannot settle (secret vote, or the chair abstained)
    COUNTED = "counted"

    @property
    def label(self) -> str:
        return str(OUTCOME_LABELS[self])


OUTCOME_LABELS = {
    Outcome.PASSED: _l("Passed"),
    Outcome.REJECTED: _l("Not passed"),
    Outcome.PASSED_BY_CHAIR: _l("Passed (tie decided by the chair's vote)"),
    Outcome.REJECTED_BY_CHAIR: _l("Not passed (tie decided by the chair's vote)"),
    Outcome.TIE: _l("Tie: the chair decides"),
    Outcome.COUNTED: _l("Counted"),
}

# D10: the three standard options, in the order they are shown.
FOR, AGAINST, ABSTAIN = "for", "against", "abstain"
STANDARD_OPTIONS = (FOR, AGAINST, ABSTAIN)
STANDARD_LABELS = {
    FOR: _l("For (Tán thành)"),
    AGAINST: _l("Against (Không tán thành)"),
    ABSTAIN: _l("Abstain (Không biểu quyết)"),
}


class Vote(db.Model):
    """A vote in a meeting, usually on an agenda item (D7, D10)."""

    __tablename__ = "votes"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(VoteStatus)})", name="status"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({sql_in(Outcome)})", name="outcome"),
        # One open vote per meeting at a time: tablets show one ballot, not a pile.
        Index("uq_votes_open_per_meeting", "meeting_id", unique=True,
              sqlite_where=db.text("status = 'open'"), postgresql_where=db.text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"),
                                                       index=True)
    question: Mapped[str] = mapped_column(Text)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"key": "for", "label": "..."}]; labels of standard options are translated when shown.
    options: Mapped[list] = mapped_column(JSON)
    standard: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default=VoteStatus.OPEN.value)
    # D7: "all members" — the voting members of the meeting when the vote opened.
    eligible_count: Mapped[int] = mapped_column(Integer)
    present_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(30))
    # The result as computed at close: counts, threshold, the rule and its legal basis.
    result: Mapped[dict | None] = mapped_column(JSON)

    # ``item.votes``: the votes on an agenda item, with their results, for the minutes (D11).
    agenda_item: Mapped[AgendaItem | None] = relationship(
        backref=backref("votes", order_by="Vote.id", passive_deletes=True))

    @property
    def is_open(self) -> bool:
        return self.status == VoteStatus.OPEN

    @property
    def option_keys(self) -> list[str]:
        return [option["key"] for option in self.options]


class VoteBallot(db.Model):
    """One member's ballot in a vote: the database holds exactly one per member (the unique
    constraint), however many times or from however many devices they press the button.

    ``choice`` is empty for a secret vote; ``receipt_hash`` then lets the voter change it.
    """

    __tablename__ = "vote_ballots"
    __table_args__ = (UniqueConstraint("vote_id", "voter_id", name="uq_vote_ballots_vote_voter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    choice: Mapped[str | None] = mapped_column(String(40))
    receipt_hash: Mapped[str | None] = mapped_column(String(64))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changes: Mapped[int] = mapped_column(Integer, default=0)

    voter: Mapped[User] = relationship(lazy="joined")


class VoteCount(db.Model):
    """How many ballots chose an option: the tally, for open and secret votes alike."""

    __tablename__ = "vote_counts"

    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)

