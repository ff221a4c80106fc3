"""Minutes of a meeting (D11): versions, their signatures, review comments, the drafts' history, and
the signers' keys.

A meeting's minutes are a list of **versions**. Version 1 is drafted from the record; once its PDF
is signed it never changes again (D11: "after signing it is immutable"): a correction is version
2, which must be signed again. Each version goes

    draft ──finalize──▶ final ──secretary signs──▶ signing ──chair signs──▶ signed
      ▲                   │                                                     │
      └──── reopen ───────┘ (only before the first signature)      a later signed version
                                                                   makes it ``superseded``

The PDF that is signed is rendered once, at ``finalize``, and stored in the blob store with its
SHA-256 (``pdf_sha256``); every signature adds an incremental update and stores the new file
(``signed_sha256``): the archive keeps each file byte-exact.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.extensions import db
from cabinet.meetings.models import Meeting
from cabinet.users.models import User


class MinutesStatus(StrEnum):
    DRAFT = "draft"  # the secretary edits; participants may be invited to comment
    FINAL = "final"  # text frozen, PDF rendered and archived, waiting for the first signature
    SIGNING = "signing"  # signed by the secretary, waiting for the chair
    SIGNED = "signed"  # signed by the secretary and the chair: the record
    SUPERSEDED = "superseded"  # a later version (a correction) has been signed

    @property
    def locked(self) -> bool:
        """The text can no longer change (D11)."""
        return self is not MinutesStatus.DRAFT


class SignatureRole(StrEnum):
    """Who signs, in this order (D11, D18; NĐ30 Điều 13, 14, 17)."""

    SECRETARY = "secretary"  # the field ThuKy, left
    CHAIR = "chair"  # the field ChuToa, right
    ORGANISATION = "organisation"  # the organ's seal-signature (CoQuan), under the chair's


class Minutes(db.Model):
    """One version of a meeting's minutes."""

    __tablename__ = "minutes"
    __table_args__ = (
        UniqueConstraint("meeting_id", "version", name="uq_minutes_meeting_version"),
        CheckConstraint(f"status IN ({sql_in(MinutesStatus)})", name="status"),
        # One version being drafted at a time: a second "new version" while one is open would fork it.
        Index("uq_minutes_one_draft_per_meeting", "meeting_id", unique=True,
              sqlite_where=db.text("status IN ('draft', 'final', 'signing')"),
              postgresql_where=db.text("status IN ('draft', 'final', 'signing')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=MinutesStatus.DRAFT.value)
    # "12/BB-CP": given by the registry (văn thư); blank until then, the PDF leaves its space.
    number: Mapped[str] = mapped_column(String(60), default="")
    secrecy: Mapped[str] = mapped_column(String(20), default="none")  # Clearance value (D14)
    # The secretary's text: {"opening_html", "closing_html", "items": {"<item id>":
    # {"discussion_html", "conclusion_html"}}}; sanitised before it is stored.
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    # Increased by every save: an editor saving an older revision gets a conflict, not a silent
    # overwrite of someone else's words.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The complete printed content (``content.MinutesData`` as JSON), frozen at ``finalize`` so the
    # DOCX and any re-rendering match the signed PDF even if the meeting's record changes later.
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    # Where each signature's stamp goes: {"ThuKy": {"page": 2, "box": [x1, y1, x2, y2]}, …}.
    signature_places: Mapped[dict | None] = mapped_column(JSON)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))  # the finalized, unsigned PDF
    signed_sha256: Mapped[str | None] = mapped_column(String(64))  # the PDF with every signature so far
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("minutes.id"))
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    review_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finalized_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    meeting: Mapped[Meeting] = relationship()
    corrects: Mapped[Minutes | None] = relationship(remote_side=[id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    signatures: Mapped[list[MinutesSignature]] = relationship(
        back_populates="minutes", order_by="MinutesSignature.id", cascade="all, delete-orphan")

    @property
    def status_enum(self) -> MinutesStatus:
        return MinutesStatus(self.status)

    @property
    def locked(self) -> bool:
        return self.status_enum.locked

    def signature_for(self, role: SignatureRole | str) -> MinutesSignature | None:
        return next((s for s in self.signatures if s.role == role), None)


class MinutesSignature(db.Model):
    """One digital signature added to a version's PDF, with the file it produced."""

    __tablename__ = "minutes_signatures"
    __table_args__ = (
        UniqueConstraint("minutes_id", "role", name="uq_minutes_signatures_role"),
        CheckConstraint(f"role IN ({sql_in(SignatureRole)})", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    field_name: Mapped[str] = mapped_column(String(40))
    # The person whose key signed; None for the organisation's key (``applied_by`` pressed the button).
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    applied_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    certificate_subject: Mapped[str] = mapped_column(String(300))  # the certificate's CN
    certificate_serial: Mapped[str] = mapped_column(String(80))  # hexadecimal
    certificate_issuer: Mapped[str] = mapped_column(String(300))
    timestamped: Mapped[bool] = mapped_column(default=False)
    sha256: Mapped[str] = mapped_column(String(64))  # the PDF as it was right after this signature
    size: Mapped[int] = mapped_column(Integer)

    minutes: Mapped[Minutes] = relationship(back_populates="signatures")
    signer: Mapped[User | None] = relationship(foreign_keys=[signer_id], lazy="joined")
    applied_by: Mapped[User] = relationship(foreign_keys=[applied_by_id], lazy="joined")


class MinutesRevision(db.Model):
    """The history of a draft's text (PEERS: Indico keeps every save; nobody loses a paragraph).

    Saves by the same person within a few minutes update their last revision instead of adding
    one, so autosave does not bury the history under thousands of rows.
    """

    __tablename__ = "minutes_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    saved_by: Mapped[User | None] = relationship(lazy="joined")


class MinutesComment(db.Model):
    """A participant's comment on the draft, on the whole text or on one agenda item."""

    __tablename__ = "minutes_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="joined")


class SigningKey(db.Model):
    """A person's signing key: the PKCS#12 file an administrator uploaded, kept as uploaded
    (encrypted by its passphrase, which is stored nowhere: the signer types it, as the PIN of a
    USB token)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        # One key in use per person; revoked keys stay for the record.
        Index("uq_signing_keys_active_user", "user_id", unique=True,
              sqlite_where=db.text("revoked_at IS NULL"), postgresql_where=db.text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    p12_sha256: Mapped[str] = mapped_column(String(64))
    certificate_subject: Mapped[str] = mapped_column(String(300))
    certificate_serial: Mapped[str] = mapped_column(String(80))
    certificate_issuer: Mapped[str] = mapped_column(String(300))
    not_valid_after: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
