"""The Python half of deploy/backup.sh and deploy/restore.sh (run with the application's virtualenv).

    backup_helper.py settings [--env-file FILE]   shell assignments: the resolved settings
    backup_helper.py db-state                      "empty", "missing" or "N tables"
    backup_helper.py db-clear                      empty a PostgreSQL target (restore --force)
    backup_helper.py db-revision                   the Alembic revision of the database
    backup_helper.py sqlite-backup SRC DEST        consistent copy of a live SQLite database
    backup_helper.py sqlite-restore SRC DEST       copy SRC into DEST through SQLite itself
    backup_helper.py write-manifest DIR            MANIFEST.sha256 of every file in DIR
    backup_helper.py verify-manifest DIR           check it: exit 1 naming each mismatch

Settings are resolved the way the application resolves them (cabinet.config.build_config, the
instance folder from CABINET_INSTANCE_PATH), so a backup reads exactly the database and folders
the running servers use.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import sqlite3
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
MANIFEST = "MANIFEST.sha256"
_RESOLVED = "CABINET_BACKUP_DATABASE_URL"
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


class Refused(Exception):
    """A check failed: the message says what, and the script stops."""


# --- settings ------------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile reads them: comments and blank lines skipped,
    one pair of surrounding quotes removed."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise Refused(f"{path}:{number}: not a KEY=value line")
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def database_url() -> str:
    """DATABASE_URL as the application reads it (its default and the postgres:// spellings
    included). ``settings`` exports the resolved URL, so the later steps need not import the
    application again (a second or so each)."""
    return os.environ.get(_RESOLVED) or _config()["SQLALCHEMY_DATABASE_URI"]


def _config() -> dict:
    sys.path.insert(0, str(APP_DIR))
    from cabinet.config import build_config

    instance = Path(os.environ.get("CABINET_INSTANCE_PATH") or APP_DIR / "instance")
    # A placeholder key: build_config must not create instance/secret_key as a side effect.
    saved = os.environ.get("SECRET_KEY")
    os.environ["SECRET_KEY"] = saved or "not-used-by-the-backup-scripts"
    try:
        return build_config(instance)
    finally:
        if saved is None:
            del os.environ["SECRET_KEY"]


def settings(env_file: Path | None) -> str:
    """Shell assignments for the scripts: the env file's own entries (exported, so that pg_dump and
    `flask` see them), then DB_KIND, PG_URL/PG_PASSWORD or SQLITE_PATH, STORAGE_DIR and PKI_DIR."""
    from sqlalchemy.engine import make_url

    lines = []
    if env_file is not None:
        for key, value in read_env_file(env_file).items():
            os.environ[key] = value
            lines.append(f"export {key}={shlex.quote(value)}")
    config = _config()
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    out = {"DB_KIND": url.get_backend_name(), "DB_DISPLAY": url.render_as_string(hide_password=True),
           "PG_URL": "", "PG_PASSWORD": "", "SQLITE_PATH": "",
           "STORAGE_DIR": str(Path(config["CABINET_STORAGE_DIR"]).absolute()),
           "PKI_DIR": str(Path(config["CABINET_PKI_DIR"]).absolute())}
    if out["DB_KIND"] == "postgresql":
        # libpq wants postgresql:// without SQLAlchemy's "+psycopg"; the password travels in
        # PGPASSWORD, never on a command line that `ps` shows.
        out["PG_URL"] = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        out["PG_PASSWORD"] = url.password or ""
    elif out["DB_KIND"] == "sqlite":
        if not url.database or url.database == ":memory:":
            raise Refused("DATABASE_URL names an in-memory SQLite database: nothing to back up")
        out["SQLITE_PATH"] = str(Path(url.database).absolute())
    else:
        raise Refused(f"unsupported database {out['DB_KIND']!r}: PostgreSQL or SQLite only")
    lines += [f"{key}={shlex.quote(value)}" for key, value in out.items()]
    lines.append(f"export {_RESOLVED}={shlex.quote(url.render_as_string(hide_password=False))}")
    return "\n".join(lines)


# --- the database --------------------------------------------------------------------------------


def _engine():
    import sqlalchemy as sa

    url = sa.engine.make_url(database_url())
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.exists():
            return None
        # mode=rw: never create the file by looking at it.
        uri = f"file:{path}?mode=rw"
        return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    return sa.create_engine(url, connect_args={"connect_timeout": 10})


def db_tables() -> list[str] | None:
    """The tables of the target database (None: an SQLite file that does not exist)."""
    import sqlalchemy as sa

    engine = _engine()
    if engine is None:
        return None
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise Refused(f"cannot open the target database: {reason}") from None
    finally:
        engine.dispose()


def db_state() -> str:
    tables = db_tables()
    if tables is None:
        return "missing"
    return f"{len(tables)} tables" if tables else "empty"


def db_clear() -> None:
    """Empty a PostgreSQL target, for ``restore.sh --force``. (An SQLite target needs nothing:
    SQLite's backup API replaces the whole file.)"""
    import sqlalchemy as sa

    engine = _engine()
    if engine is None or engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def db_revision() -> str:
    import sqlalchemy as sa

    engine = _engine()
    if engine is None:
        return "none"
    try:
        with engine.connect() as conn:
            if "alembic_version" not in sa.inspect(conn).get_table_names():
                return "none"
            revisions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            return ",".join(revisions) or "none"
    finally:
        engine.dispose()


def sqlite_backup(source: Path, target: Path) -> None:
    """Copy a live database through SQLite's backup API: a consistent snapshot even while the
    servers write (WAL included), none of them stopped. The copy is checked and left as one
    self-contained file (the servers switch it back to WAL when they open it)."""
    if not source.is_file():
        raise Refused(f"no SQLite database at {source}")
    _copy(f"file:{source}?mode=rw", target)  # rw: a WAL database needs its -shm; never creates
    with sqlite3.connect(target) as copy:
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise Refused(f"the copy of {source} fails SQLite's integrity check: {result}")
        copy.execute("PRAGMA journal_mode=DELETE")


def sqlite_restore(source: Path, target: Path) -> None:
    """Write a backed-up database over ``target`` through SQLite itself (its -wal and -shm files
    stay consistent), creating the file if needed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(f"file:{source}?mode=ro", target)


def _copy(source_uri: str, target: Path) -> None:
    src = sqlite3.connect(source_uri, uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# --- the manifest --------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """``sha256sum`` format, so `sha256sum -c MANIFEST.sha256` checks it too."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    lines = [f"{sha256_of(folder / name)}  {name}\n" for name in names]
    (folder / MANIFEST).write_text("".join(lines), encoding="utf-8")


def verify_manifest(folder: Path) -> list[str]:
    """Every problem with the backup in ``folder``: a missing, unlisted or altered file."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [f"no {MANIFEST} in {folder}: not a backup made by deploy/backup.sh"]
    problems, listed = [], set()
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.fullmatch(r"([0-9a-f]{64}) [ *]([^/\\]+)", line)
        if match is None or match.group(2) in (".", ".."):
            problems.append(f"{MANIFEST}:{number}: not a 'sha256  name' line")
            continue
        expected, name = match.groups()
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif (actual := sha256_of(path)) != expected:
            problems.append(f"{name}: sha256 mismatch (manifest {expected[:16]}…, file {actual[:16]}…)")
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != MANIFEST and path.name not in listed:
            problems.append(f"{path.name}: not listed in the manifest")
    for required in ("backup.info", "storage.tar"):
        if required not in listed:
            problems.append(f"{required}: missing from the manifest")
    if not {"database.dump", "database.sqlite3"} & listed:
        problems.append("no database file (database.dump or database.sqlite3) in the manifest")
    return problems


# --- command line --------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="backup_helper.py")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("settings")
    command.add_argument("--env-file", type=Path)
    for name in ("db-state", "db-clear", "db-revision"):
        commands.add_parser(name)
    for name in ("sqlite-backup", "sqlite-restore"):
        command = commands.add_parser(name)
        command.add_argument("source", type=Path)
        command.add_argument("target", type=Path)
    for name in ("write-manifest", "verify-manifest"):
        commands.add_parser(name).add_argument("folder", type=Path)
    args = parser.parse_args(argv)

    try:
        if args.command == "settings":
            print(settings(args.env_file))
        elif args.command == "db-state":
            print(db_state())
        elif args.command == "db-clear":
            db_clear()
        elif args.command == "db-revision":
            print(db_revision())
        elif args.command == "sqlite-backup":
            sqlite_backup(args.source, args.target)
        elif args.command == "sqlite-restore":
            sqlite_restore(args.source, args.target)
        elif args.command == "write-manifest":
            write_manifest(args.folder)
        elif args.command == "verify-manifest":
            problems = verify_manifest(args.folder)
            for problem in problems:
                print(problem, file=sys.stderr)
            return 1 if problems else 0
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
