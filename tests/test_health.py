"""The probes: ``/healthz`` (the process answers) and ``/readyz`` (the database and Redis answer)."""

from __future__ import annotations

import re
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import event, func, select

from cabinet import create_app, health
from cabinet.audit.models import AuditEntry
from cabinet.config import build_config
from cabinet.extensions import db
from tests.conftest import BASE_TEST_CONFIG, login, needs
from tests.test_sessions import age_browser_sessions

UNREACHABLE_DATABASE = "postgresql+psycopg://cabinet:s3cret-db-pw@127.0.0.1:1/cabinet"
CLOSED_REDIS = "redis://:s3cret-redis-pw@127.0.0.1:1/0"
REAL_REDIS = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def app_on(tmp_path, monkeypatch):
    """An app on any database URL, even one that cannot be reached (make_app would try to clean
    it up afterwards)."""

    def build(database_url: str, **overrides):
        monkeypatch.setenv("CABINET_INSTANCE_PATH", str(tmp_path / "instance"))
        return create_app({**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **overrides})

    return build


@pytest.fixture
def checkouts(app):
    """Counts the connections taken from the database pool (a raw connection included)."""
    taken = []

    def on_checkout(*_args):
        taken.append(1)

    event.listen(db.engine, "checkout", on_checkout)
    yield taken
    event.remove(db.engine, "checkout", on_checkout)


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


# --- liveness -------------------------------------------------------------------------------------


def test_healthz_answers_ok_without_a_session_and_sets_no_cookie(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    # The security headers are still there.
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_healthz_touches_no_database_and_writes_no_audit_entry(client, checkouts):
    before = db.session.scalar(select(func.count(AuditEntry.id)))
    db.session.commit()
    checkouts.clear()

    assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200

    assert checkouts == []
    assert db.session.scalar(select(func.count(AuditEntry.id))) == before


def test_healthz_answers_when_the_database_is_down(app_on):
    client = app_on(UNREACHABLE_DATABASE).test_client()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_probes_ignore_the_session_of_a_browser_whose_login_expired(client, member, checkouts):
    """The session rules would send this browser to the login page; the probes answer it."""
    assert login(client, member.username).status_code == 302
    age_browser_sessions(timedelta(days=2))
    checkouts.clear()

    health_response = client.get("/healthz")
    ready_response = client.get("/readyz")

    assert health_response.status_code == 200
    assert ready_response.status_code == 200
    assert ready_response.get_json()["status"] == "ready"
    assert len(checkouts) == 1  # readyz's SELECT 1; nothing loaded the user
    page = client.get("/")  # while any page sends this browser to log in again
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_probes_pass_the_input_guard_and_refuse_other_methods(client):
    assert client.get("/healthz?probe=%00").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


# --- readiness ------------------------------------------------------------------------------------


def test_readyz_is_ready_on_the_test_database(client, checkouts):
    before = db.session.scalar(select(func.count(AuditEntry.id)))
    db.session.commit()

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert 0 <= body["checks"]["database"]["ms"] < health.CHECK_TIMEOUT_SECONDS * 1000
    assert body["checks"]["redis"] == "not configured"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert db.session.scalar(select(func.count(AuditEntry.id))) == before


def test_readyz_is_not_ready_when_the_database_is_unreachable(app_on):
    client = app_on(UNREACHABLE_DATABASE).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    database = body["checks"]["database"]
    assert database["ok"] is False
    assert database["error"].startswith("OperationalError: ")
    assert "Connection refused" in database["error"]
    assert "s3cret-db-pw" not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_not_ready_when_redis_is_configured_at_a_closed_port(make_app):
    client = make_app(REDIS_URL=CLOSED_REDIS).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    redis_check = body["checks"]["redis"]
    assert redis_check["ok"] is False
    assert redis_check["error"].startswith("ConnectionError: ")
    assert "127.0.0.1:1" in redis_check["error"]
    assert "s3cret-redis-pw" not in response.get_data(as_text=True)


@needs(_redis_answers(), "Redis at 127.0.0.1:6379")
def test_readyz_is_ready_with_the_real_redis(make_app):
    client = make_app(REDIS_URL=REAL_REDIS).test_client()

    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["database"]["ok"] is True


def test_readyz_gives_up_on_services_that_never_answer(app_on, silent_server, monkeypatch):
    """A database and a Redis that accept the connection and then say nothing: the probe answers
    503 after the timeout, both checks running side by side, instead of hanging."""
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.5)
    client = app_on(f"postgresql+psycopg://cabinet@127.0.0.1:{silent_server}/cabinet",
                    REDIS_URL=f"redis://127.0.0.1:{silent_server}/0").test_client()

    started = time.perf_counter()
    response = client.get("/readyz")
    elapsed = time.perf_counter() - started

    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == {"ok": False, "ms": checks["database"]["ms"],
                                  "error": "no answer within 0.5 s"}
    assert checks["redis"]["ok"] is False
    assert elapsed < 1.5


def test_short_reason_masks_credentials():
    error = Exception('could not reach postgresql://cabinet:hunter2@db:5432/cabinet with password=hunter2\n'
                      "second line with details")

    reason = health.short_reason(error, ("hunter2",))

    assert reason == "Exception: could not reach postgresql://***@db:5432/cabinet with password=***"


# --- the deployment files use the probes and the application's own settings --------------------------

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_the_compose_file_parses_and_checks_the_web_replicas_with_readyz():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]

    assert {"postgres", "redis", "migrate", "web", "jobs", "nginx"} <= set(services)
    web = services["web"]
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    assert web["deploy"]["replicas"] >= 2
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"
    for name in ("migrate", "web", "jobs"):  # one image, the same settings, the same volumes
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://ecabinet:${POSTGRES_PASSWORD")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
        assert set(services[name]["volumes"]) == {"blobs:" + environment["CABINET_STORAGE_DIR"],
                                                  "pki:" + environment["CABINET_PKI_DIR"]}
    assert {"postgres-data", "blobs", "pki"} <= set(compose["volumes"])


@pytest.mark.parametrize("conf", ["ecabinet.conf", "ecabinet-docker.conf"])
def test_nginx_takes_the_apps_upload_limit_and_does_not_log_the_probes(conf, tmp_path, monkeypatch):
    text = (DEPLOY / "nginx" / conf).read_text(encoding="utf-8")
    monkeypatch.delenv("CABINET_MAX_UPLOAD_MB", raising=False)
    monkeypatch.setenv("SECRET_KEY", "unused")
    default_limit = build_config(tmp_path)["MAX_CONTENT_LENGTH"]

    assert re.findall(r"client_max_body_size\s+(\d+)m;", text) == [str(default_limit // (1024 * 1024))]
    for probe in ("/healthz", "/readyz"):
        block = re.search(r"location = " + probe + r" \{(.*?)\}", text, re.S)
        assert block and "access_log off;" in block.group(1)
    socket_block = re.search(r"location /socket\.io/ \{(.*?)\}", text, re.S).group(1)
    assert "proxy_http_version 1.1;" in socket_block
    assert "proxy_set_header Upgrade" in socket_block and "proxy_set_header Connection" in socket_block
    assert "ip_hash;" in text


def test_the_environment_example_names_every_setting_the_application_reads():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (DEPLOY.parent / "cabinet").rglob("*.py"))
    read = set(re.findall(r"""(?:environ\.get|environ\[|getenv|_env_int|_env_bool|_env_dates)\(?\s*["']"""
                          r"""((?:CABINET_|DATABASE_|REDIS_|SECRET_)[A-Z0-9_]*)["']""", source))
    example = (DEPLOY / "ecabinet.env.example").read_text(encoding="utf-8")

    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CABINET_STORAGE_DIR"} <= read
    assert sorted(name for name in read if not re.search(rf"\b{name}\b", example)) == []


def test_readyz_logs_a_failing_check_once_and_its_recovery_once(client, monkeypatch, caplog):
    """A load balancer probes every second: an outage gives one warning, not one per probe."""
    outage = {"on": False}
    real_ping = health._ping_database

    def ping(engine):
        if outage["on"]:
            raise ConnectionRefusedError("database at 10.0.0.5 refused the connection")
        real_ping(engine)

    monkeypatch.setattr(health, "_ping_database", ping)
    caplog.set_level("INFO", logger="cabinet.health")

    def readiness_lines() -> list[str]:
        lines = [r.getMessage() for r in caplog.records if r.name == "cabinet.health"]
        caplog.clear()
        return lines

    assert client.get("/readyz").status_code == 200
    assert readiness_lines() == []
    outage["on"] = True
    assert [client.get("/readyz").status_code for _ in range(5)] == [503] * 5
    assert readiness_lines() == [
        "readiness check database failed: ConnectionRefusedError: database at 10.0.0.5 refused "
        "the connection"]
    outage["on"] = False
    assert [client.get("/readyz").status_code for _ in range(3)] == [200] * 3
    assert readiness_lines() == ["readiness check database passes again (after 5 failed probes)"]
