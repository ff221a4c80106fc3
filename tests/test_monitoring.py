"""Monitoring: JSON-lines logs, the request id, Prometheus metrics at /metrics, and the rotation of
SECRET_KEY through SECRET_KEY_FALLBACKS (docs/operations.md, "Monitoring" and "Rotating keys and
certificates")."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from cabinet import jobs
from cabinet.config import build_config
from cabinet.core.logging import CHATTY_LOGGERS, HANDLER_MARK, configure_logging
from tests.conftest import PASSWORD, api_token, login

ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


class JsonLog:
    """The lines the app wrote through the JSON handler, parsed."""

    def __init__(self, stream: io.StringIO):
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        # Every physical line is one complete JSON object: json.loads fails on anything else.
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def requests(self) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == "cabinet.request"]


@pytest.fixture
def json_log():
    """Route the log through the real JSON handler into a buffer (INFO), as on a server."""
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *CHATTY_LOGGERS)}
    stream = io.StringIO()
    handler = configure_logging("json", "INFO", stream=stream)
    yield JsonLog(stream)
    root.removeHandler(handler)
    for name, level in levels.items():  # as they were, for the tests that run after this one
        logging.getLogger(name).setLevel(level)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- log lines ----------------------------------------------------------------------------------------


def test_a_json_log_line_carries_time_level_logger_message_and_pid(json_log):
    logging.getLogger("cabinet.example").warning("Phiên họp %s đã mở", "số 12")
    (line,) = json_log.lines()
    assert list(line)[:5] == ["time", "level", "logger", "message", "pid"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert line["level"] == "WARNING"
    assert line["logger"] == "cabinet.example"
    assert line["message"] == "Phiên họp số 12 đã mở"  # readable Vietnamese, not \\u escapes
    assert "Phiên họp" in json_log.text
    assert line["pid"] == os.getpid()


def test_configuring_twice_keeps_one_handler(json_log):
    configure_logging("json", "INFO", stream=json_log.stream)
    ours = [h for h in logging.getLogger().handlers if getattr(h, HANDLER_MARK, False)]
    assert len(ours) == 1
    logging.getLogger("cabinet.example").warning("once")
    assert len(json_log.lines()) == 1
    for handler in ours:
        logging.getLogger().removeHandler(handler)


def test_the_request_line_has_the_request_fields_and_echoes_the_proxy_request_id(client, json_log):
    rid = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # nginx's $request_id
    response = client.get("/login?next=/meetings", headers={"X-Request-ID": rid})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == rid
    (line,) = json_log.requests()
    assert line["request_id"] == rid
    assert line["method"] == "GET"
    assert line["path"] == "/login"  # without the query string
    assert line["endpoint"] == "auth.login"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None
    assert line["client"] == "127.0.0.1"
    assert line["level"] == "INFO"


def test_a_request_without_a_usable_id_gets_a_new_one(client, json_log):
    first = client.get("/login").headers["X-Request-ID"]
    forged = client.get("/login", headers={"X-Request-ID": "x\" injected=1"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", forged)
    assert first != forged
    assert [line["request_id"] for line in json_log.requests()] == [first, forged]


def test_the_request_line_names_the_logged_in_user_and_the_api_token_owner(app, member, json_log):
    browser = app.test_client()
    login(browser, member.username)
    browser.get("/account/")
    token = api_token(app.test_client(), member.username)
    app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    by_path = {line["path"]: line for line in json_log.requests()}
    assert by_path["/account/"]["user_id"] == member.id
    assert by_path["/api/v1/me"]["user_id"] == member.id
    assert by_path["/api/v1/me"]["status"] == 200


def test_the_client_address_is_the_one_nginx_forwarded(make_app, json_log):
    app = make_app(CABINET_PROXIES=1)
    app.test_client().get("/login", headers={"X-Forwarded-For": "10.1.2.3"})
    (line,) = json_log.requests()
    assert line["client"] == "10.1.2.3"


def test_passwords_tokens_and_query_strings_never_reach_the_log(app, member, json_log, caplog):
    caplog.set_level(logging.DEBUG)
    browser = app.test_client()
    assert login(browser, member.username).status_code == 302
    login(app.test_client(), member.username, password="wrong-password-Secret-42")
    token = api_token(app.test_client(), member.username)
    app.test_client().get("/api/v1/me?access_token=query-secret-1",
                          headers={"Authorization": f"Bearer {token}"})
    browser.get("/meetings?token=query-secret-2&q=Lu%E1%BA%ADt")
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    captured = json_log.text + "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert json_log.requests(), "the requests were logged"
    for secret in (PASSWORD, "wrong-password-Secret-42", token, "query-secret-1", "query-secret-2",
                   cookie):
        assert secret not in captured
    assert all("?" not in line["path"] for line in json_log.requests())


def test_an_unexpected_error_is_one_json_line_with_its_traceback(make_app, json_log):
    app = make_app()

    def broken():
        raise RuntimeError("the disk caught fire")

    app.add_url_rule("/broken-for-the-test", "broken", broken)
    response = app.test_client().get("/broken-for-the-test",
                                     headers={"X-Request-ID": "rid-of-the-broken-one"})
    assert response.status_code == 500
    lines = json_log.lines()  # every physical line parsed: the traceback did not break one apart
    (error,) = [line for line in lines if "traceback" in line]
    assert error["level"] == "ERROR"
    assert "RuntimeError: the disk caught fire" in error["traceback"]
    assert error["traceback"].startswith("Traceback (most recent call last)")
    assert error["request_id"] == "rid-of-the-broken-one"
    (request_line,) = json_log.requests()
    assert request_line["status"] == 500 and request_line["level"] == "ERROR"


def test_health_probes_are_not_logged_at_info(client, json_log):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 404
    assert json_log.requests() == []
    logging.getLogger().setLevel(logging.DEBUG)
    client.get("/healthz")
    assert [(line["path"], line["level"]) for line in json_log.requests()] == [("/healthz", "DEBUG")]


def test_the_settings_default_to_text_and_info(monkeypatch, tmp_path):
    for name in ("CABINET_LOG_FORMAT", "CABINET_LOG_LEVEL", "CABINET_METRICS_TOKEN", "SECRET_KEY_FALLBACKS"):
        monkeypatch.delenv(name, raising=False)
    config = build_config(tmp_path)
    assert (config["CABINET_LOG_FORMAT"], config["CABINET_LOG_LEVEL"]) == ("text", "INFO")
    assert config["CABINET_METRICS_TOKEN"] is None and config["SECRET_KEY_FALLBACKS"] == []
    monkeypatch.setenv("CABINET_LOG_FORMAT", "JSON")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", " old-key-1, ,old-key-2 ")
    config = build_config(tmp_path)
    assert config["CABINET_LOG_FORMAT"] == "json"
    assert config["SECRET_KEY_FALLBACKS"] == ["old-key-1", "old-key-2"]


def test_gunicorn_formats_its_own_lines_as_json_without_importing_the_app(tmp_path):
    script = (
        "import logging, runpy, sys\n"
        "ns = runpy.run_path('gunicorn.conf.py')\n"
        "assert ns['accesslog'] is None\n"
        "config = ns['logconfig_dict']\n"
        "handler = config['handlers']['cabinet']['()']()\n"
        "logger = logging.getLogger('gunicorn.error')\n"
        "logger.addHandler(handler)\n"
        "logger.warning('Booting worker with pid: %s', 42)\n"
        "print('flask imported' if 'flask' in sys.modules else 'flask not imported')\n")
    env = {**os.environ, "CABINET_LOG_FORMAT": "json"}
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    assert run.stdout.strip() == "flask not imported"
    line = json.loads(run.stderr.strip().splitlines()[-1])
    assert line["logger"] == "gunicorn.error" and line["message"] == "Booting worker with pid: 42"


# --- /metrics -------------------------------------------------------------------------------------------


def test_metrics_answer_404_when_no_token_is_configured(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert "ecabinet_" not in response.get_data(as_text=True)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}",
                                           f"Bearer {METRICS_TOKEN}x", "Bearer "])
def test_metrics_refuse_a_missing_or_wrong_token(make_app, authorization):
    app = make_app(CABINET_METRICS_TOKEN=METRICS_TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    response = app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 404
    assert "ecabinet_" not in response.get_data(as_text=True)


def test_a_logged_in_administrator_does_not_open_the_metrics(make_app, make_user):
    app = make_app(CABINET_METRICS_TOKEN=METRICS_TOKEN)
    with app.app_context():
        make_user("quantri", role="admin")
    browser = app.test_client()
    assert login(browser, "quantri").status_code == 302
    assert browser.get("/metrics").status_code == 404


def scrape(app) -> str:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def test_metrics_count_requests_by_endpoint_and_status(make_app):
    app = make_app(CABINET_METRICS_TOKEN=METRICS_TOKEN)
    before = sample("ecabinet_http_requests_total", method="GET", endpoint="auth.login", status="200")
    missing = sample("ecabinet_http_requests_total", method="GET", endpoint="none", status="404")
    timed = sample("ecabinet_http_request_duration_seconds_count", endpoint="auth.login")
    client = app.test_client()
    client.get("/login")
    client.get("/login?next=/x")
    client.get("/no/such/page/123")
    text = scrape(app)
    assert sample("ecabinet_http_requests_total", method="GET", endpoint="auth.login",
                  status="200") == before + 2
    assert sample("ecabinet_http_requests_total", method="GET", endpoint="none", status="404") == missing + 1
    assert sample("ecabinet_http_request_duration_seconds_count", endpoint="auth.login") == timed + 2
    assert 'ecabinet_http_requests_total{endpoint="auth.login",method="GET",status="200"}' in text
    assert "/no/such/page" not in text  # paths never become labels
    assert "process_resident_memory_bytes" in text or "python_info" in text


def test_metrics_report_readiness_pool_and_job_queue_failures(make_app):
    app = make_app(CABINET_METRICS_TOKEN=METRICS_TOKEN)
    app.test_client().get("/readyz")
    assert sample("ecabinet_readiness", check="database") == 1
    failures = sample("ecabinet_jobs_queue_failures_total")
    with app.app_context():
        jobs.queue_failed(RuntimeError("queue full"), "could not queue the test job %s", 1)
    assert sample("ecabinet_jobs_queue_failures_total") == failures + 1
    text = scrape(app)
    assert "ecabinet_db_pool_checked_out " in text
    assert 'ecabinet_readiness{check="database"} 1.0' in text


def test_metrics_follow_socket_connections_and_events(app, member, caplog):
    from tests.test_live_socket import Tablet

    events = sample("ecabinet_socket_events_total", event="session.whoami")
    connects = sample("ecabinet_socket_events_total", event="connect")
    open_before = sample("ecabinet_socket_connections")
    caplog.set_level(logging.DEBUG, logger="cabinet.socket")
    tablet = Tablet(app, member.username)
    assert sample("ecabinet_socket_connections") == open_before + 1
    assert tablet.sio.emit("session.whoami", callback=True)["ok"]
    assert sample("ecabinet_socket_events_total", event="session.whoami") == events + 1
    assert sample("ecabinet_socket_events_total", event="connect") == connects + 1
    assert any(r.levelno == logging.DEBUG and getattr(r, "event", None) == "session.whoami"
               for r in caplog.records)
    tablet.sio.disconnect()
    assert sample("ecabinet_socket_connections") == open_before


def test_metrics_count_the_votes_cast(cabinet):
    from tests.meeting_factories import held_meeting

    before = sample("ecabinet_votes_cast_total")
    held_meeting(cabinet)  # the PM and the Minister of Justice vote "for"
    assert sample("ecabinet_votes_cast_total") == before + 2


# --- SECRET_KEY rotation ------------------------------------------------------------------------------


def _old_session_cookie(app, member) -> tuple[str, str]:
    browser = app.test_client()
    assert login(browser, member.username).status_code == 302
    name = app.config["SESSION_COOKIE_NAME"]
    return name, browser.get_cookie(name).value


def _visit_with(app, cookie: tuple[str, str]):
    other = app.test_client()
    other.set_cookie(*cookie)
    return other.get("/account/")


def test_a_session_survives_a_key_rotation_while_the_old_key_is_a_fallback(app, member):
    old_key = app.config["SECRET_KEY"]
    cookie = _old_session_cookie(app, member)
    # What a restart with the new settings does: a new key, the old one kept as a fallback.
    app.config.update(SECRET_KEY="the-new-key-after-rotation", SECRET_KEY_FALLBACKS=[old_key])
    response = _visit_with(app, cookie)
    assert response.status_code == 200
    assert member.full_name in response.get_data(as_text=True)


def test_a_session_signed_with_a_removed_key_is_refused(app, member):
    cookie = _old_session_cookie(app, member)
    app.config.update(SECRET_KEY="the-new-key-after-rotation", SECRET_KEY_FALLBACKS=[])
    response = _visit_with(app, cookie)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- the deployment files ---------------------------------------------------------------------------


@pytest.mark.parametrize("conf", ["ecabinet.conf", "ecabinet-docker.conf"])
def test_nginx_sends_its_request_id_and_keeps_metrics_private(conf):
    text = (ROOT / "deploy" / "nginx" / conf).read_text(encoding="utf-8")
    server = text[text.index("listen 443"):]
    assert "proxy_set_header X-Request-ID      $request_id;" in server
    socket_block = re.search(r"location /socket\.io/ \{(.*?)\}", text, re.S).group(1)
    assert "X-Request-ID" in socket_block  # a location with its own headers inherits none
    metrics_block = re.search(r"location = /metrics \{(.*?)\}", server, re.S).group(1)
    assert "deny all;" in metrics_block
    assert "request_id=$request_id" in text


def test_the_server_setups_log_json_lines_without_gunicorns_access_log():
    deploy = ROOT / "deploy"
    assert re.search(r"^CABINET_LOG_FORMAT=json$", (deploy / "ecabinet.env.example").read_text(), re.M)
    for unit in ("ecabinet-web@.service", "ecabinet-jobs.service"):
        assert "Environment=CABINET_LOG_FORMAT=json" in (deploy / "systemd" / unit).read_text()
    dockerfile = (deploy / "Dockerfile").read_text()
    assert "CABINET_LOG_FORMAT=json" in dockerfile
    for text in (dockerfile, (deploy / "systemd" / "ecabinet-web@.service").read_text()):
        assert "--access-logfile" not in text and "access-logfile" not in text
