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


# --- PostgreSQL under gevent: holding the loop while the audit lock is held ---------------------------
#
# Every write appends to the audit trail's hash chain under one advisory lock, held from the
# chain's head read to the commit (cabinet.audit.service). Under gevent each of those round trips
# normally yields to the worker's other greenlets; with hundreds of tablets on a worker, the
# holder then waits for the loop to come back to it after each one, and every other writer in
# every worker waits for the holder (bench/load.py sampled the holder idle in its transaction
# 95 % of the time). So, once the lock is granted, the holder's connection waits for the server
# without yielding: the head read, the insert and the commit take a millisecond or two of the
# worker's time, during which nothing else of that worker runs. Waiting for the lock itself stays
# cooperative. Nothing the holder sends in that window can wait for another transaction (an
# insert into an append-only table with no foreign keys, and the commit), so blocking cannot
# deadlock the worker against one of its own greenlets.

_holding_installed = False


def install_postgres_holding() -> None:
    """Under gevent, have psycopg connections made by SQLAlchemy able to :func:`hold_the_loop`."""
    global _holding_installed
    if _holding_installed or not _gevent_patched():
        return
    try:
        import psycopg
        from psycopg import waiting
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    blocking_wait = getattr(waiting, "wait_c", None)
    if blocking_wait is None:  # pragma: no cover - the C build is a dependency (psycopg[binary])
        return
    _holding_installed = True

    class HoldingConnection(psycopg.Connection):
        holding = False

        def wait(self, gen, interval=0.1, timeout=None):
            if self.holding:
                return blocking_wait(gen, self.pgconn.socket, interval, timeout)
            return super().wait(gen, interval=interval, timeout=timeout)

    @event.listens_for(Engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            return HoldingConnection.connect(*cargs, **cparams)
        return None

    def _let_go(dbapi_connection, *_args) -> None:
        if getattr(dbapi_connection, "holding", False):
            dbapi_connection.holding = False

    # The commit has gone through (or the transaction ended otherwise) when the connection goes
    # back to the pool: from there on it yields again.
    event.listen(Pool, "reset", _let_go)
    event.listen(Pool, "checkin", _let_go)


def hold_the_loop(connection) -> bool:
    """Have ``connection`` (a SQLAlchemy Connection) wait for PostgreSQL without yielding to other
    greenlets until it goes back to the pool, i.e. until its transaction has ended. Whether it
    does (False without gevent, where waits block anyway, and on SQLite)."""
    raw = connection.connection.dbapi_connection
    if not hasattr(raw, "holding"):
        return False
    raw.holding = True
    return True
