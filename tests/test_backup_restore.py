"""deploy/backup.sh and deploy/restore.sh, really run: an installation is filled through the
services (accounts, a meeting, an uploaded document, the audit trail they write, a PKI folder),
backed up, and restored into a fresh database and a fresh file store; the rows, the document's
bytes and the audit chain come back intact. On SQLite always, and on PostgreSQL (databases of the
test's own, created and dropped here) whenever it answers — in CI, always.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from pypdf import PdfWriter

from cabinet import create_app
from cabinet.documents import service as documents
from cabinet.extensions import db
from cabinet.storage import LocalBlobStore
from cabinet.users import service as users_service
from tests.conftest import BASE_TEST_CONFIG, ON_POSTGRES, PASSWORD, TEST_DATABASE_URL, needs
from tests.meeting_factories import schedule

ROOT = Path(__file__).resolve().parent.parent
BACKUP_SCRIPT = ROOT / "deploy" / "backup.sh"
RESTORE_SCRIPT = ROOT / "deploy" / "restore.sh"
BASH = shutil.which("bash") or "/bin/bash"
MEETING_TITLE = "Phiên họp Chính phủ chuyên đề xây dựng pháp luật tháng 12"
PKI_FILES = {"ca.pem": b"-----BEGIN CERTIFICATE-----\nnot a real one\n", "keys/thuky.p12": b"\x30\x82demo"}


def _admin_url() -> str:
    """The maintenance database of the PostgreSQL server the tests use (as .ci/run does)."""
    if os.environ.get("PG_ADMIN_URL"):
        return os.environ["PG_ADMIN_URL"]
    if ON_POSTGRES:
        url = sa.engine.make_url(TEST_DATABASE_URL).set(drivername="postgresql", database="postgres")
        return url.render_as_string(hide_password=False)
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres_answers() -> bool:
    try:
        with psycopg.connect(_admin_url(), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


needs_postgres = needs(_postgres_answers() and shutil.which("pg_dump") is not None,
                       "PostgreSQL at 127.0.0.1:5432 and pg_dump (apt-get install postgresql-client)")


# --- installations ---------------------------------------------------------------------------------


@dataclass
class Site:
    """One installation: its database and its instance folder (file store and PKI inside)."""

    database_url: str
    instance: Path

    @property
    def blobs(self) -> Path:
        return self.instance / "blobs"

    @property
    def pki(self) -> Path:
        return self.instance / "pki"

    def settings(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "CABINET_INSTANCE_PATH": str(self.instance),
                "CABINET_STORAGE_DIR": str(self.blobs), "CABINET_PKI_DIR": str(self.pki),
                "SECRET_KEY": "backup-test-secret-key"}

    def rows(self, sql: str) -> list[tuple]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()


@dataclass
class Filled:
    """What was put into the source installation."""

    pdf: bytes
    sha256: str
    audit: list[tuple]


def script_env(**settings: str) -> dict[str, str]:
    """The scripts' environment: this test run's virtualenv, no setting inherited from the suite."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "SECRET_KEY"}
           and not k.startswith("CABINET_")}
    return {**env, "CABINET_VENV": sys.prefix, **settings}


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(script), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def a_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Title": f"Tờ trình {uuid.uuid4()}"})  # bytes of their own for each test
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def fill(site: Site, monkeypatch) -> Filled:
    """Build the schema with the migrations and add accounts, a meeting and a document through the
    services (which write the audit trail), and a PKI folder."""
    monkeypatch.setenv("CABINET_INSTANCE_PATH", str(site.instance))
    app = create_app({**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": site.database_url,
                      "CABINET_STORAGE_DIR": str(site.blobs)})
    pdf = a_pdf()
    with app.app_context():
        upgrade()

        def account(username: str, role: str):
            return users_service.create_user(None, users_service.UserData(
                username=username, full_name=f"Người dùng {username}", title="Chuyên viên",
                organisation="Văn phòng Chính phủ", role=role, clearance="none"), PASSWORD)

        thuky, pm = account("thuky", "secretariat"), account("thutuong", "member")
        meeting = schedule(thuky, chair=pm, secretaries=[thuky], title=MEETING_TITLE)
        document = documents.upload_document(
            thuky, meeting.id, title="Tờ trình dự án Luật", doc_type="to_trinh", secrecy="none",
            urgency="none", agenda_item_id=None, stream=io.BytesIO(pdf), filename="to-trinh.pdf")
        sha256 = document.versions[0].blob_sha256
        db.session.remove()
        db.engine.dispose()
    for name, content in PKI_FILES.items():
        (site.pki / name).parent.mkdir(parents=True, exist_ok=True)
        (site.pki / name).write_bytes(content)
    audit = site.rows("SELECT seq, action, hash FROM audit_entries ORDER BY seq")
    assert len(audit) >= 3
    return Filled(pdf=pdf, sha256=sha256, audit=audit)


def back_up(site: Site, dest: Path) -> Path:
    result = run(BACKUP_SCRIPT, dest, env=script_env(**site.settings()))
    assert result.returncode == 0, result.stdout + result.stderr
    [backup] = dest.glob("ecabinet-*")
    assert "Backup complete" in result.stdout
    return backup


def write_env_file(path: Path, site: Site) -> Path:
    """The target's settings as an operator writes /etc/ecabinet/ecabinet.env."""
    lines = ["# e-Cabinet (restore test)", "", "CABINET_LOGIN_RATE_LIMIT=30 per minute"]
    lines += [f"{key}={value}" for key, value in site.settings().items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def assert_restored(target: Site, filled: Filled, output: str) -> None:
    assert sorted(target.rows("SELECT username FROM users")) == [("thuky",), ("thutuong",)]
    assert target.rows("SELECT title FROM meetings") == [(MEETING_TITLE,)]
    assert target.rows("SELECT blob_sha256 FROM document_versions") == [(filled.sha256,)]
    assert LocalBlobStore(target.blobs).read(filled.sha256) == filled.pdf
    for name, content in PKI_FILES.items():
        assert (target.pki / name).read_bytes() == content
    assert target.rows("SELECT seq, action, hash FROM audit_entries ORDER BY seq") == filled.audit
    assert f"OK: {len(filled.audit)} entries, chain intact." in output
    assert "Restore complete" in output


# --- SQLite -----------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_sites(tmp_path) -> tuple[Site, Site]:
    source = Site(f"sqlite:///{tmp_path / 'source' / 'cabinet.sqlite3'}", tmp_path / "source")
    target = Site(f"sqlite:///{tmp_path / 'target' / 'cabinet.sqlite3'}", tmp_path / "target")
    return source, target


def test_a_sqlite_installation_is_backed_up_and_restored_whole(sqlite_sites, tmp_path, monkeypatch):
    source, target = sqlite_sites
    filled = fill(source, monkeypatch)

    backup = back_up(source, tmp_path / "backups")
    restored = run(RESTORE_SCRIPT, "--env-file", write_env_file(tmp_path / "target.env", target), backup,
                   env=script_env())

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert sorted(p.name for p in backup.iterdir()) == [
        "MANIFEST.sha256", "backup.info", "database.sqlite3", "pki.tar", "storage.tar"]
    assert "database=sqlite" in (backup / "backup.info").read_text()
    assert_restored(target, filled, restored.stdout)


def test_restore_refuses_a_target_that_is_not_empty_unless_forced(sqlite_sites, tmp_path, monkeypatch):
    source, target = sqlite_sites
    filled = fill(source, monkeypatch)
    backup = back_up(source, tmp_path / "backups")
    env = script_env(**target.settings())
    assert run(RESTORE_SCRIPT, backup, env=env).returncode == 0

    again = run(RESTORE_SCRIPT, backup, env=env)
    forced = run(RESTORE_SCRIPT, "--force", backup, env=env)

    assert again.returncode == 1
    assert "refused: the target database is not empty" in again.stderr
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert list(target.instance.glob("pki.before-restore-*"))  # the previous PKI folder is kept
    assert_restored(target, filled, forced.stdout)


def test_restore_refuses_a_corrupted_backup_and_changes_nothing(sqlite_sites, tmp_path, monkeypatch):
    source, target = sqlite_sites
    fill(source, monkeypatch)
    backup = back_up(source, tmp_path / "backups")
    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    with (damaged / "storage.tar").open("r+b") as fh:  # one flipped byte, as a failing disk would
        fh.seek(700)
        byte = fh.read(1)
        fh.seek(700)
        fh.write(bytes([byte[0] ^ 0xFF]))

    result = run(RESTORE_SCRIPT, damaged, env=script_env(**target.settings()))

    assert result.returncode == 1
    assert "storage.tar: sha256 mismatch" in result.stderr
    assert "refused" in result.stderr
    assert not target.instance.exists()  # no database file, no file store, no PKI folder


# --- PostgreSQL -------------------------------------------------------------------------------------


@pytest.fixture
def postgres_databases() -> Iterator:
    """``create(name)`` makes an empty database of this test's own; all are dropped afterwards."""
    admin = _admin_url()
    created: list[str] = []

    def create(role: str) -> str:
        name = f"cabinet_backup_{role}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = sa.engine.make_url(admin).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    yield create
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@needs_postgres
def test_a_postgresql_installation_is_backed_up_and_restored_whole(postgres_databases, tmp_path, monkeypatch):
    source = Site(postgres_databases("source"), tmp_path / "source")
    target = Site(postgres_databases("target"), tmp_path / "target")
    filled = fill(source, monkeypatch)

    backup = back_up(source, tmp_path / "backups")
    restored = run(RESTORE_SCRIPT, backup, env=script_env(**target.settings()))

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert sorted(p.name for p in backup.iterdir()) == [
        "MANIFEST.sha256", "backup.info", "database.dump", "pki.tar", "storage.tar"]
    assert (backup / "database.dump").read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert_restored(target, filled, restored.stdout)
    # The restored database is the application's: it is at the latest schema revision.
    assert target.rows("SELECT version_num FROM alembic_version") == \
        source.rows("SELECT version_num FROM alembic_version")


@needs_postgres
def test_restore_refuses_a_postgresql_dump_whose_sum_differs(postgres_databases, tmp_path, monkeypatch):
    source = Site(postgres_databases("source"), tmp_path / "source")
    target = Site(postgres_databases("target"), tmp_path / "target")
    fill(source, monkeypatch)
    backup = back_up(source, tmp_path / "backups")
    with (backup / "database.dump").open("ab") as fh:
        fh.write(b"\0")

    result = run(RESTORE_SCRIPT, backup, env=script_env(**target.settings()))

    assert result.returncode == 1
    assert "database.dump: sha256 mismatch" in result.stderr
    assert target.rows("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
