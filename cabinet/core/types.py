"""Column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timestamp that is always aware and in UTC, on SQLite as on PostgreSQL.

    SQLite has no time zones and returns naive values; PostgreSQL returns the session's
    zone. Normalising here means no code ever compares naive with aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use timeutil.utcnow()")
        value = value.astimezone(UTC)
        # SQLite stores text: keep it naive-UTC so ordering by string works.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The largest value of an INTEGER primary key: a larger id names nothing (and would fail in
# PostgreSQL), so lookups answer "not found" for it.
MAX_ID = 2**31 - 1


def sql_in(values) -> str:
    """The SQL list of an enum's values, for CHECK constraints: ``'a', 'b'``."""
    return ", ".join(f"'{v.value}'" for v in values)
