"""The audit trail: append-only, hash-chained, and verifiable from the command line."""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from cabinet.audit import service as audit
from cabinet.audit.models import AuditEntry
from cabinet.extensions import db
from tests.conftest import ON_POSTGRES, csrf_token, login


@contextlib.contextmanager
def without_append_only_guard():
    """What an attacker with database-owner rights can do: switch the guard trigger off."""
    if ON_POSTGRES:
        db.session.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_entries_no_delete"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        if ON_POSTGRES:
            db.session.execute(sa.text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
            db.session.commit()


def write_entries(n: int, actor=None) -> list[AuditEntry]:
    entries = [audit.record("test.event", actor=actor, object_type="thing", object_id=i,
                            details={"i": i, "note": "Tờ trình số " + str(i)}) for i in range(n)]
    db.session.commit()
    return entries


def run_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_logins_failed_logins_and_user_changes_are_audited_with_origin(client, admin, member):
    login(client, "bt.tuphap", "wrong-password-x")
    login(client, "bt.tuphap")
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    by_action = {e.action: e for e in entries}
    created = [e.details["username"] for e in entries if e.action == "user.created"]
    assert created == ["quantri", "bt.tuphap"]
    assert by_action["auth.login_failed"].object_id == str(member.id)
    assert by_action["auth.login_failed"].ip == "127.0.0.1"
    assert by_action["auth.login"].actor_id == member.id
    assert by_action["auth.login"].actor_name == member.full_name


def test_chain_links_each_entry_to_the_previous_one(app):
    first, second, third = write_entries(3)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3


def test_verify_passes_on_an_intact_trail(app):
    write_entries(5)
    result = run_verify(app)
    assert result.exit_code == 0, result.output
    assert "5 entries" in result.output and "intact" in result.output


def test_verify_passes_on_an_empty_trail(app):
    assert run_verify(app).exit_code == 0


def test_database_refuses_to_update_or_delete_entries(app):
    write_entries(2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_entries SET action = 'x' WHERE seq = 1"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_entries WHERE seq = 2"))
    db.session.rollback()
    assert db.session.scalar(select(sa.func.count(AuditEntry.id))) == 2


def test_verify_names_the_first_edited_entry(app):
    write_entries(6)
    with without_append_only_guard():
        db.session.execute(sa.text("UPDATE audit_entries SET actor_name = 'someone else' WHERE seq = 4"))
        db.session.commit()
        result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at entry 4" in result.output
    assert "altered" in result.output


def test_verify_notices_an_edit_that_recomputed_the_hash(app):
    """Re-hashing the edited row does not help: the next entry no longer links to it."""
    write_entries(4)
    with without_append_only_guard():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.seq == 2))
        entry.details = {"i": 99}
        entry.hash = audit.compute_hash(entry)
        db.session.commit()
        result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output


def test_verify_notices_a_deleted_entry(app):
    write_entries(5)
    with without_append_only_guard():
        db.session.execute(sa.text("DELETE FROM audit_entries WHERE seq = 3"))
        db.session.commit()
        result = run_verify(app)
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output and "missing" in result.output


def test_admin_page_lists_entries_and_verifies(client, admin):
    login(client, "quantri")
    page = client.get("/admin/audit/")
    assert page.status_code == 200
    assert "auth.login" in page.get_data(as_text=True)
    token = csrf_token(client, "/admin/audit/")
    checked = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert checked.status_code == 200
    assert "flash-success" in checked.get_data(as_text=True)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "audit.verified"))


def test_admin_page_reports_a_broken_chain(client, admin):
    login(client, "quantri")
    with without_append_only_guard():
        db.session.execute(sa.text("UPDATE audit_entries SET ip = '10.0.0.66' WHERE seq = 1"))
        db.session.commit()
        token = csrf_token(client, "/admin/audit/")
        checked = client.post("/admin/audit/verify", data={"csrf_token": token})
    assert "flash-error" in checked.get_data(as_text=True)


def test_concurrent_writers_never_fork_the_chain(make_app):
    """Several threads auditing at once: every entry lands, seq has no gaps, the chain verifies."""
    import threading

    app = make_app()
    errors: list[Exception] = []

    def worker(n: int):
        try:
            with app.app_context():
                for i in range(10):
                    audit.record("test.concurrent", details={"worker": n, "i": i})
                    db.session.commit()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        seqs = db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert seqs == list(range(1, 61))
        assert audit.verify_chain().ok
