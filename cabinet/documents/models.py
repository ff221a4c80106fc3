"""Documents of a meeting, their versions, and who has read them (D8, D14, D15)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.extensions import db
from cabinet.meetings.models import AgendaItem, Meeting
from cabinet.users.models import CLEARANCE_LABELS, Clearance, User


class DocType(StrEnum):
    TO_TRINH = "to_trinh"
    DU_THAO = "du_thao"
    BAO_CAO = "bao_cao"
    BAO_CAO_THAM_DINH = "bao_cao_tham_dinh"
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(DOC_TYPE_LABELS[self])


DOC_TYPE_LABELS = {
    DocType.TO_TRINH: _l("Submission (Tờ trình)"),
    DocType.DU_THAO: _l("Draft (Dự thảo)"),
    DocType.BAO_CAO: _l("Report (Báo cáo)"),
    DocType.BAO_CAO_THAM_DINH: _l("Appraisal report (Báo cáo thẩm định)"),
    DocType.OTHER: _l("Other document"),
}

# Secrecy levels are the clearance levels (D14); "none" means unclassified.
Secrecy = Clearance
SECRECY_LABELS = {**CLEARANCE_LABELS, Clearance.NONE: _l("Unclassified")}


class Urgency(StrEnum):
    """D15, in increasing order; urgent documents are shown and sorted first."""

    NONE = "none"
    KHAN = "khan"
    THUONG_KHAN = "thuong_khan"
    HOA_TOC = "hoa_toc"

    @property
    def rank(self) -> int:
        return list(Urgency).index(self)

    @property
    def label(self) -> str:
        return str(URGENCY_LABELS[self])


URGENCY_LABELS = {
    Urgency.NONE: _l("Normal"),
    Urgency.KHAN: _l("Urgent (Khẩn)"),
    Urgency.THUONG_KHAN: _l("Very urgent (Thượng khẩn)"),
    Urgency.HOA_TOC: _l("Immediate (Hỏa tốc)"),
}


class DocumentStatus(StrEnum):
    DRAFT = "draft"  # uploaded, seen by the secretariat only
    PUBLISHED = "published"  # distributed to the participants
    RECALLED = "recalled"  # thu hồi: access ended for all but the secretariat


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(f"doc_type IN ({sql_in(DocType)})", name="doc_type"),
        CheckConstraint(f"secrecy IN ({sql_in(Clearance)})", name="secrecy"),
        CheckConstraint(f"urgency IN ({sql_in(Urgency)})", name="urgency"),
        CheckConstraint(f"status IN ({sql_in(DocumentStatus)})", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    doc_type: Mapped[str] = mapped_column(String(30), default=DocType.TO_TRINH.value)
    secrecy: Mapped[str] = mapped_column(String(20), default=Clearance.NONE.value)
    urgency: Mapped[str] = mapped_column(String(20), default=Urgency.NONE.value)
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.DRAFT.value)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set at publication when it came after the D8 deadline (lead time before the meeting).
    published_late: Mapped[bool] = mapped_column(default=False)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recalled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recall_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship()
    agenda_item: Mapped[AgendaItem | None] = relationship()
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="DocumentVersion.number")

    @property
    def current_version(self) -> DocumentVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def secrecy_enum(self) -> Clearance:
        return Clearance(self.secrecy)

    @property
    def urgency_enum(self) -> Urgency:
        return Urgency(self.urgency)

    @property
    def is_classified(self) -> bool:
        return self.secrecy != Clearance.NONE


class DocumentVersion(db.Model):
    """One uploaded file. Blobs live in the file store, addressed by SHA-256 (never in the DB)."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_document_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    original_filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    blob_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # The PDF readers get: the upload itself, or its LibreOffice conversion; None when a DOCX
    # could not be converted (then it is offered as a download, with a notice).
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    page_count: Mapped[int | None] = mapped_column(Integer)
    text_content: Mapped[str] = mapped_column(Text, default="")  # for search
    conversion_note: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")
    uploaded_by: Mapped[User | None] = relationship(lazy="joined")


class DocumentRead(db.Model):
    """Who opened which document, for "unread" marks (the audit trail has every single read)."""

    __tablename__ = "document_reads"
    __table_args__ = (UniqueConstraint("document_id", "user_id", name="uq_document_reads_doc_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    first_read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
