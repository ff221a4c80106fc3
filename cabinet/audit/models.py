"""One row per audited event; each row carries the hash of the one before it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cabinet.core.types import UTCDateTime
from cabinet.extensions import db

GENESIS_HASH = "0" * 64


class AuditEntry(db.Model):
    """An audited event.

    ``seq`` counts from 1 without gaps and ``prev_hash`` is the ``hash`` of entry ``seq-1``
    (or :data:`GENESIS_HASH`), so editing or deleting any row breaks the chain from there on.
    ``actor_id`` is a plain integer, not a foreign key: deleting a user must never be able to
    rewrite history, and the actor's name is kept as it was at the time.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
