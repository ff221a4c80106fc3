"""Writing and verifying the audit trail.

Entries are written in the same transaction as the change they describe, so a change and
its record commit or fail together. Appending is serialised (an advisory lock on
PostgreSQL; SQLite transactions are already exclusive writers here), and the unique
``seq`` makes a forked chain impossible even if that lock were bypassed.

``record()`` only remembers the entry; it is chained (numbered, linked to the previous hash)
and inserted by a ``before_commit`` hook, right before the transaction commits. The lock is
therefore held from that insert to the commit, not for the rest of the request: under load (the
meeting day of bench/load.py) every writer queued behind transactions that had taken the lock
early and were still working, and the connection pools ran dry. The entry's ``seq`` and ``hash``
are known once the caller has committed (``chained_seq()``). An entry recorded inside a
savepoint that is rolled back is dropped with it. Under gevent, from the moment the lock is
granted to the commit, the connection does not yield to other greenlets
(:func:`cabinet.core.database.hold_the_loop`): the lock is held for the time of three round trips
to the server, not for as long as the worker's other greenlets keep its loop busy.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from cabinet.audit.models import GENESIS_HASH, AuditEntry
from cabinet.core.database import hold_the_loop
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db

log = logging.getLogger("cabinet.audit")

# Arbitrary constant naming our advisory lock on PostgreSQL ("CABINET" in ASCII, truncated).
_PG_AUDIT_LOCK = 0x434142494E4554
_PENDING = "cabinet.audit.pending"  # key in Session.info: [(entry, transaction it was recorded in)]


def _canonical(entry: AuditEntry) -> bytes:
    payload = {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "ip": entry.ip,
        "details": entry.details or {},
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(entry: AuditEntry) -> str:
    """The SHA-256 of an entry's canonical content, its predecessor's hash included."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _origin_ip() -> str | None:
    if not has_request_context():
        return "cli"
    return request.remote_addr


def record(
    action: str,
    *,
    actor=None,
    object_type: str | None = None,
    object_id: Any = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Record an entry for ``action`` in the caller's transaction; it is appended to the trail
    when the caller commits (and dropped if it rolls back).

    ``actor`` is the acting :class:`~cabinet.users.models.User` (None for the system or an
    unknown person, whose claimed name can go in ``actor_name``).
    """
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.full_name if actor is not None else (actor_name or ""),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        ip=_origin_ip(),
        details=details or {},
    )
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((entry, transaction))
    return entry


def chained_seq(entry: AuditEntry) -> int:
    """The sequence number an entry got when its transaction committed."""
    return entry.__dict__["_chained_seq"]


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()  # the change itself first, outside the lock: it may wait for row locks
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
        hold_the_loop(session.connection())  # under gevent: no yielding until the commit is done
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    at = utcnow()  # the moment it enters the trail: times follow the chain's order
    for entry, _transaction in pending:
        seq += 1
        entry.seq, entry.at, entry.prev_hash = seq, at, prev_hash
        entry.hash = prev_hash = compute_hash(entry)
        entry.__dict__["_chained_seq"] = seq  # not a mapped attribute: survives expiry at commit
        session.add(entry)
        log.info(json.dumps(
            {"audit": entry.action, "seq": seq, "actor": entry.actor_id, "hash": entry.hash,
             "object": f"{entry.object_type}:{entry.object_id}" if entry.object_type else None},
            ensure_ascii=False))
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Entries recorded in the rolled-back transaction (or a savepoint inside it) go with it."""
    pending = session.info.get(_PENDING)
    if not pending:
        return

    def inside(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    kept = [(entry, transaction) for entry, transaction in pending if not inside(transaction)]
    if kept:
        session.info[_PENDING] = kept
    else:
        session.info.pop(_PENDING, None)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken_seq: int | None = None
    reason: str | None = None  # for logs and the command line (English)
    kind: str | None = None  # "missing", "unlinked" or "altered": the page translates it


def verify_chain(batch_size: int = 2000) -> VerifyResult:
    """Walk the whole trail and report the first entry that does not fit the chain.

    Three things are checked per entry: ``seq`` follows the previous one (a deleted row leaves
    a gap), ``prev_hash`` equals the previous entry's hash, and ``hash`` matches the content.
    Deleting the newest entries leaves no gap; compare the reported head with a copy kept
    elsewhere (every entry's hash is also written to the application log).
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = None
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    for entry in db.session.scalars(stmt):
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, last_seq, expected_prev, expected_seq,
                                f"entry {expected_seq} is missing (next found: {entry.seq})",
                                "missing")
        if entry.prev_hash != expected_prev:
            return VerifyResult(False, checked, last_seq, expected_prev, entry.seq,
                                f"entry {entry.seq} does not link to entry {entry.seq - 1}",
                                "unlinked")
        if compute_hash(entry) != entry.hash:
            return VerifyResult(False, checked, last_seq, expected_prev, entry.seq,
                                f"entry {entry.seq} was altered after it was written", "altered")
        expected_prev = entry.hash
        expected_seq += 1
        last_seq = entry.seq
        checked += 1
    return VerifyResult(True, checked, last_seq, expected_prev if last_seq else None)
