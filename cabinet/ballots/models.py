"""Opinion ballots (Phiếu lấy ý kiến thành viên Chính phủ), their questions, recipients, the
members' signed answers and the reminders sent (D12, D13).

A ballot is edited as a draft, then issued (phát hành) to its recipients; it closes by itself at
its deadline. Whatever runs the closing job, the deadline decides: an answer is refused once the
deadline has passed, even if the job that records the closing has not run yet.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.extensions import db
from cabinet.users.models import Clearance, User


class BallotStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"  # issued, answers accepted until the deadline
    CLOSED = "closed"  # the deadline passed (or the secretariat closed it early)
    DECIDED = "decided"  # the Prime Minister (or whoever the ballot names) recorded the decision
    RECALLED = "recalled"  # withdrawn after issue; answers no longer accepted

    @property
    def label(self) -> str:
        return str(BALLOT_STATUS_LABELS[self])


BALLOT_STATUS_LABELS = {
    BallotStatus.DRAFT: _l("Draft"),
    BallotStatus.OPEN: _l("Open"),
    BallotStatus.CLOSED: _l("Closed"),
    BallotStatus.DECIDED: _l("Decided"),
    BallotStatus.RECALLED: _l("Recalled (thu hồi)"),
}


class NoAnswerPolicy(StrEnum):
    """D13 *(policy)*: how a member who did not answer is counted."""

    DISAGREE = "disagree"  # not agreeing (default)
    AGREE = "agree"  # deemed agreement (a per-ballot setting)

    @property
    def label(self) -> str:
        return str(NO_ANSWER_LABELS[self])


NO_ANSWER_LABELS = {
    NoAnswerPolicy.DISAGREE: _l("A missing answer counts as not agreeing"),
    NoAnswerPolicy.AGREE: _l("A missing answer is deemed agreement"),
}


class Choice(StrEnum):
    """D12."""

    AGREE = "agree"  # Đồng ý
    DISAGREE = "disagree"  # Không đồng ý
    OTHER = "other"  # Ý kiến khác (a comment is required)

    @property
    def label(self) -> str:
        return str(CHOICE_LABELS[self])


CHOICE_LABELS = {
    Choice.AGREE: _l("Agree (Đồng ý)"),
    Choice.DISAGREE: _l("Disagree (Không đồng ý)"),
    Choice.OTHER: _l("Other opinion (Ý kiến khác)"),
}


class SignatureMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 (a method's name, not a secret)
    PASSWORD_OTP = "password_otp"  # noqa: S105
    PAPER = "paper"  # answered on the printed form; recorded by the secretariat


class Ballot(db.Model):
    __tablename__ = "ballots"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(BallotStatus)})", name="status"),
        CheckConstraint(f"no_answer_policy IN ({sql_in(NoAnswerPolicy)})", name="no_answer_policy"),
        Index("ix_ballots_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(60), default="")  # số, ký hiệu: 45/PLYK-VPCP
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=BallotStatus.DRAFT.value)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    no_answer_policy: Mapped[str] = mapped_column(String(20), default=NoAnswerPolicy.DISAGREE.value)
    # Who decides on the result (the Prime Minister unless the ballot names someone else).
    decider_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Raised on every edit of a draft; an answer records the version it answered.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: at its deadline
    # Per question, computed at close by D13 (see ballots.service.tally).
    result: Mapped[dict | None] = mapped_column(JSON)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(Text, default="")
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recalled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recall_reason: Mapped[str] = mapped_column(Text, default="")

    questions: Mapped[list[BallotQuestion]] = relationship(
        back_populates="ballot", cascade="all, delete-orphan", order_by="BallotQuestion.position")
    recipients: Mapped[list[BallotRecipient]] = relationship(
        back_populates="ballot", cascade="all, delete-orphan")
    documents: Mapped[list[BallotDocument]] = relationship(
        back_populates="ballot", cascade="all, delete-orphan", order_by="BallotDocument.id")
    decider: Mapped[User | None] = relationship(foreign_keys=[decider_id], lazy="joined")

    @property
    def status_enum(self) -> BallotStatus:
        return BallotStatus(self.status)

    def accepts_answers(self, now: datetime) -> bool:
        """Open and before the deadline: the clock decides, not whether the closing job ran."""
        return self.status == BallotStatus.OPEN and now < self.deadline

    def is_recipient(self, user_id: int) -> bool:
        return any(r.user_id == user_id for r in self.recipients)


class BallotQuestion(db.Model):
    __tablename__ = "ballot_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    ballot: Mapped[Ballot] = relationship(back_populates="questions")


class BallotRecipient(db.Model):
    __tablename__ = "ballot_recipients"

    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)

    ballot: Mapped[Ballot] = relationship(back_populates="recipients")
    user: Mapped[User] = relationship(lazy="joined")


class BallotResponse(db.Model):
    """One signed answer to a whole ballot. A change is a new response; the previous one is kept
    (``superseded_at`` set), so the history of every member's answers survives. The database holds
    at most one current response per member (a partial unique index)."""

    __tablename__ = "ballot_responses"
    __table_args__ = (
        CheckConstraint(f"method IN ({sql_in(SignatureMethod)})", name="method"),
        Index("uq_ballot_responses_current", "ballot_id", "respondent_id", unique=True,
              sqlite_where=db.text("superseded_at IS NULL"),
              postgresql_where=db.text("superseded_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"), index=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ballot_version: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # SHA-256 of the canonical JSON of what was signed (ballot, version, respondent, answers, time).
    content_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # paper answers
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    respondent: Mapped[User] = relationship(foreign_keys=[respondent_id], lazy="joined")
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    answers: Mapped[list[BallotAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="BallotAnswer.id")


class BallotAnswer(db.Model):
    __tablename__ = "ballot_answers"
    __table_args__ = (
        CheckConstraint(f"choice IN ({sql_in(Choice)})", name="choice"),
        UniqueConstraint("response_id", "question_id", name="uq_ballot_answers_response_question"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("ballot_responses.id", ondelete="CASCADE"),
                                             index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("ballot_questions.id", ondelete="CASCADE"))
    choice: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")

    response: Mapped[BallotResponse] = relationship(back_populates="answers")


class BallotReminder(db.Model):
    """A reminder sent to a member who had not answered; the unique key makes each one go once."""

    __tablename__ = "ballot_reminders"
    __table_args__ = (UniqueConstraint("ballot_id", "user_id", "hours_before",
                                       name="uq_ballot_reminders_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    hours_before: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BallotDocument(db.Model):
    """A file of the ballot's dossier (tờ trình, dự thảo…). Kept in the same file store and under
    the same secrecy rules as meeting documents (D14): recipients read it only when cleared for its
    level, classified files watermarked per reader. Fixed once the ballot is issued."""

    __tablename__ = "ballot_documents"
    __table_args__ = (CheckConstraint(f"secrecy IN ({sql_in(Clearance)})", name="secrecy"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(ForeignKey("ballots.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    doc_type: Mapped[str] = mapped_column(String(30), default="to_trinh")
    secrecy: Mapped[str] = mapped_column(String(20), default=Clearance.NONE.value)
    original_filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    blob_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    page_count: Mapped[int | None] = mapped_column(Integer)
    conversion_note: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ballot: Mapped[Ballot] = relationship(back_populates="documents")

    @property
    def secrecy_enum(self) -> Clearance:
        return Clearance(self.secrecy)

    @property
    def is_classified(self) -> bool:
        return self.secrecy != Clearance.NONE
