"""Time is stored in UTC and shown in the configured zone (Asia/Ho_Chi_Minh by default)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` as an aware UTC datetime.

    SQLite hands back naive datetimes even for ``DateTime(timezone=True)`` columns; we only
    ever store UTC, so a naive value is UTC by construction.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
