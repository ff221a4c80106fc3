"""A real e-Cabinet server (``python app.py``: gevent, websockets) in a subprocess, on the test's
own database, for the tests that need a browser or a real network socket.

Use the fixture by importing it into the test module::

    from tests.live_server import live_server  # noqa: F401  (a pytest fixture)

    def test_something(app, cabinet, live_server):
        server = live_server(app)               # commits the test's data, starts, waits
        page.goto(server.url + "/login")
        server.kill()                           # a crash: SIGKILL
        server.restart()                        # the same port and database again

On SQLite every transaction takes the write lock (``BEGIN IMMEDIATE``, see
cabinet/core/database.py), even one that only reads: a test that touches the database after the
server started (``meeting.id`` on an expired object is enough) holds that lock and the server
waits for it. Read what the test needs before starting the server, or ``db.session.commit()``
after reading. PostgreSQL has no such limit.

Extra keywords become environment variables of the server (``live_server(app,
CABINET_SPEAKING_SECONDS="60")``). The server stops at the end of the test, before the
database is cleaned, and its output is printed when it failed to start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import has_app_context

from cabinet.extensions import db
from tests.live_processes import ServerProcess

START_TIMEOUT_S = 40


class LiveServer(ServerProcess):
    """A :class:`~tests.live_processes.ServerProcess` on a test app's database and file store,
    with the settings a browser test needs; ``url`` is its base address (no trailing slash)."""

    def __init__(self, app, workdir: Path, **env: str):
        instance = workdir / "instance"
        instance.mkdir(parents=True, exist_ok=True)
        super().__init__({
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "CABINET_INSTANCE_PATH": str(instance),
            "CABINET_STORAGE_DIR": app.config.get("CABINET_STORAGE_DIR") or str(instance / "blobs"),
            "SECRET_KEY": "live-server-test-secret-key",
            "CABINET_PASSWORD_PROFILE": "CHEAPEST",
            "CABINET_LOGIN_RATE_LIMIT": "1000 per minute",
            **{key: str(value) for key, value in env.items()},
        }, workdir / "server.log")

    def __str__(self) -> str:
        return self.url

    def start(self, timeout: float = START_TIMEOUT_S) -> LiveServer:
        if has_app_context():
            # The server reads the database on its own connection: the test's data must be in it.
            db.session.commit()
        return super().start(timeout)

    def output(self) -> str:
        return self.log_tail(200)


@pytest.fixture
def live_server(make_app, tmp_path):
    """A factory: ``live_server(app, **env)`` starts a server on ``app``'s database.

    It depends on ``make_app`` so that it is torn down first: every server is stopped before
    the test's database is dropped or truncated.
    """
    started: list[LiveServer] = []

    def start(app, **env: str) -> LiveServer:
        server = LiveServer(app, tmp_path / f"live-server-{len(started)}", **env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
