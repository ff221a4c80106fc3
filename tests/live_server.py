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

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask import has_app_context

from cabinet.extensions import db

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 40


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One server process; ``url`` is its base address (no trailing slash)."""

    def __init__(self, app, workdir: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log_path = workdir / "server.log"
        instance = workdir / "instance"
        instance.mkdir(parents=True, exist_ok=True)
        environment = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
        environment.update({
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "CABINET_HOST": "127.0.0.1",
            "CABINET_PORT": str(self.port),
            "CABINET_INSTANCE_PATH": str(instance),
            "CABINET_STORAGE_DIR": app.config.get("CABINET_STORAGE_DIR") or str(instance / "blobs"),
            "SECRET_KEY": "live-server-test-secret-key",
            "CABINET_PASSWORD_PROFILE": "CHEAPEST",
            "CABINET_LOGIN_RATE_LIMIT": "1000 per minute",
            "PYTHONUNBUFFERED": "1",
        })
        environment.update({key: str(value) for key, value in env.items()})
        self.env = environment
        self.process: subprocess.Popen | None = None

    def __str__(self) -> str:
        return self.url

    def start(self) -> LiveServer:
        if has_app_context():
            # The server reads the database on its own connection: the test's data must be in it.
            db.session.commit()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S} s:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """End the server at once, as a crash or a power cut would (SIGKILL)."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """End the server cleanly (SIGTERM), or kill it if it does not stop in time."""
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> LiveServer:
        """Stop and start again, on the same port and database."""
        self.stop()
        return self.start()


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
