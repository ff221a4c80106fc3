"""Settings come from the environment; secrets are never constants in the code."""

from __future__ import annotations

import os
import stat

import socketio

from cabinet import create_app
from cabinet.config import build_config


def test_secret_key_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = build_config(tmp_path)["SECRET_KEY"]
    second = build_config(tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 64
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
    assert build_config(tmp_path / "other")["SECRET_KEY"] != first


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert build_config(tmp_path)["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_default_database_is_sqlite_under_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = build_config(tmp_path)["SQLALCHEMY_DATABASE_URI"]
    assert url == f"sqlite:///{tmp_path / 'cabinet.sqlite3'}"


def test_postgres_urls_use_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/cabinet")
    assert build_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db:5432/cabinet"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    from cabinet.extensions import db

    if db.engine.dialect.name != "sqlite":
        return  # this property is about the embedded default only
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_redis_url_makes_socketio_use_the_message_queue(tmp_path, monkeypatch):
    monkeypatch.setenv("CABINET_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                      "SOCKETIO_ASYNC_MODE": "threading"})
    manager = app.extensions["socketio"].server.manager
    assert isinstance(manager, socketio.RedisManager)  # cabinet.live.queue's, made to outlive an outage
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    # Reset the shared extension to the in-process manager for the other tests.
    monkeypatch.delenv("REDIS_URL")
    create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                "SOCKETIO_ASYNC_MODE": "threading"})


def _audited_ip(app, make_user_name: str) -> str | None:
    """Log in (wrongly) through a proxy that says the user is 203.0.113.7; the audit trail's address."""
    from sqlalchemy import select

    from cabinet.audit.models import AuditEntry
    from cabinet.extensions import db
    from tests.conftest import csrf_token

    client = app.test_client()
    token = csrf_token(client)
    client.post("/login", data={"username": make_user_name, "password": "wrong", "csrf_token": token},
                headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    with app.app_context():
        return db.session.scalar(select(AuditEntry.ip).order_by(AuditEntry.seq.desc()).limit(1))


def test_behind_a_proxy_the_users_address_is_recorded_and_never_otherwise(make_app):
    assert _audited_ip(make_app(CABINET_PROXIES=1), "nobody") == "203.0.113.7"
    # Serving directly, a forged header must not hide who is knocking.
    assert _audited_ip(make_app(), "nobody") == "127.0.0.1"
