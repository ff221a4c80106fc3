"""Writing and verifying the audit trail.

Entries are written in the same transaction as the change they describe, so a change and
its record commit or fail together. Appending is serialised (an advisory lock on
PostgreSQL; SQLite transactions are already exclusive writers here), and the unique
``seq`` makes a forked chain impossible even if that lock were bypassed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select, text

from cabinet.audit.models import GENESIS_HASH, AuditEntry
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db

log = logging.getLogger("cabinet.audit")

# Arbitrary constant naming our advisory lock on PostgreSQL ("CABINET" in ASCII, truncated).
_PG_AUDIT_LOCK = 0x434142494E4554


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
    """Append an entry for ``action`` to the trail, in the caller's transaction.

    ``actor`` is the acting :class:`~cabinet.users.models.User` (None for the system or an
    unknown person, whose claimed name can go in ``actor_name``). The caller commits.
    """
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    at = utcnow()
    # Microsecond precision is what both databases keep; hash exactly what is stored.
    entry = AuditEntry(
        seq=(last.seq + 1) if last else 1,
        at=at,
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.full_name if actor is not None else (actor_name or ""),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        ip=_origin_ip(),
        details=details or {},
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    log.info(
        json.dumps(
            {"audit": action, "seq": entry.seq, "actor": entry.actor_id, "hash": entry.hash,
             "object": f"{object_type}:{entry.object_id}" if object_type else None},
            ensure_ascii=False,
        )
    )
    return entry


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
