"""Database engine settings that SQLAlchemy does not set for us."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_installed = False
_LOCK_WAIT_SECONDS = 15.0


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


# One writer at a time per process, taken *cooperatively*. Under gevent, SQLite's busy handler
# sleeps in C and blocks the whole worker: a greenlet waiting there for the write lock stops the
# greenlet that holds it from ever committing (measured: every request failed after 15 s). Waiting
# on this lock instead yields to the holder. Created at import; app.py monkey-patches first, so
# under gevent this is a gevent lock. Without gevent (threads, tests) it is not used.
_sqlite_writer = threading.Lock()


def install_sqlite_tuning() -> None:
    """WAL journal, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` on SQLite.

    Python's sqlite3 starts transactions lazily with a plain ``BEGIN``: a transaction that
    reads and then writes can then fail with "database is locked" when another writer got
    there first (measured here: 702 of 800 concurrent votes lost). Taking the write lock at
    the start, and waiting for it, loses none. See SQLAlchemy's "Serializable isolation /
    Savepoints / Transactional DDL" recipe for pysqlite.
    """
    global _installed
    if _installed:
        return
    _installed = True
    cooperative = _gevent_patched()

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record):
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(Engine, "begin")
    def _on_begin(connection):
        if connection.dialect.name != "sqlite":
            return
        if cooperative and not connection.info.get("sqlite_writer"):
            # After the wait, carry on regardless: SQLite's own busy timeout still applies.
            connection.info["sqlite_writer"] = _sqlite_writer.acquire(timeout=_LOCK_WAIT_SECONDS)
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def _release(info) -> None:
        if info.pop("sqlite_writer", False):
            _sqlite_writer.release()

    if cooperative:
        event.listen(Engine, "commit", lambda connection: _release(connection.info))
        event.listen(Engine, "rollback", lambda connection: _release(connection.info))
        # A connection returned to the pool without commit or rollback events.
        event.listen(Pool, "checkin", lambda _dbapi, record: _release(record.info))
