"""Annotations drawn on one version of a document, and whom they are shared with.

An annotation is stored as the parts of a W3C Web Annotation we need: a target (the document
version, the page, and the geometry or quoted text on it) and a plain-text body. Geometry is in
page-relative coordinates (0..1), so it survives a re-render at any zoom; the version is fixed at
creation, so a new version of the document never silently moves old annotations onto new pages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.documents.models import Document, DocumentVersion
from cabinet.extensions import db
from cabinet.users.models import User

BODY_MAX_CHARS = 4000


class AnnotationKind(StrEnum):
    PEN = "pen"
    HIGHLIGHT = "highlight"
    NOTE = "note"

    @property
    def motivation(self) -> str:
        """The W3C Web Annotation motivation of this kind."""
        return {"pen": "drawing", "highlight": "highlighting", "note": "commenting"}[self.value]

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self])


KIND_LABELS = {
    AnnotationKind.PEN: _l("Drawing"),
    AnnotationKind.HIGHLIGHT: _l("Highlight"),
    AnnotationKind.NOTE: _l("Note"),
}


class Colour(StrEnum):
    """A small fixed palette: readable on paper-white pages, distinct for colour-blind readers."""

    YELLOW = "yellow"
    GREEN = "green"
    BLUE = "blue"
    RED = "red"
    PURPLE = "purple"


class Visibility(StrEnum):
    PRIVATE = "private"  # the owner only (on all of their devices)
    MEETING = "meeting"  # every participant of the meeting who may see the document
    PARTICIPANTS = "participants"  # the users listed in annotation_shares (if they may see it)

    @property
    def label(self) -> str:
        return str(VISIBILITY_LABELS[self])


VISIBILITY_LABELS = {
    Visibility.PRIVATE: _l("Private"),
    Visibility.MEETING: _l("Shared with the meeting"),
    Visibility.PARTICIPANTS: _l("Shared with chosen participants"),
}


def new_public_id() -> str:
    return uuid.uuid4().hex


class Annotation(db.Model):
    __tablename__ = "annotations"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(AnnotationKind)})", name="kind"),
        CheckConstraint(f"colour IN ({sql_in(Colour)})", name="colour"),
        CheckConstraint(f"visibility IN ({sql_in(Visibility)})", name="visibility"),
        CheckConstraint("page >= 1", name="page_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Chosen by the client (uuid4 hex) so a tablet can create offline and retry without duplicates.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("document_versions.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The W3C selectors (FragmentSelector for the page, SvgSelector-like strokes, rects, a
    # TextQuoteSelector, a point), validated by cabinet.annotations.schemas before storing.
    target: Mapped[dict] = mapped_column(JSON)
    body_text: Mapped[str] = mapped_column(Text, default="")
    colour: Mapped[str] = mapped_column(String(20), default=Colour.YELLOW.value)
    visibility: Mapped[str] = mapped_column(String(20), default=Visibility.PRIVATE.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    document: Mapped[Document] = relationship()
    version: Mapped[DocumentVersion] = relationship(lazy="joined")
    owner: Mapped[User] = relationship(lazy="joined")
    shares: Mapped[list[AnnotationShare]] = relationship(
        back_populates="annotation", cascade="all, delete-orphan", lazy="selectin")

    @property
    def kind_enum(self) -> AnnotationKind:
        return AnnotationKind(self.kind)

    @property
    def visibility_enum(self) -> Visibility:
        return Visibility(self.visibility)

    @property
    def shared_user_ids(self) -> list[int]:
        return sorted(share.user_id for share in self.shares)


class AnnotationShare(db.Model):
    """One chosen participant an annotation is shared with (visibility ``participants``)."""

    __tablename__ = "annotation_shares"

    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)

    annotation: Mapped[Annotation] = relationship(back_populates="shares")
