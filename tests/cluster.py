"""Several e-Cabinet processes sharing one database and one Redis, as a deployment runs them, for
the scale-out and fault tests (tests/test_scale_out.py, tests/test_faults.py).

* :class:`RedisServer` — a private ``redis-server`` on a free port, no persistence, that a test
  may kill and start again on the same port. Private, so that no other test run (nor another
  leg of CI running at the same time) shares its job queue, its Socket.IO channel or its rate
  limits.
* A scratch PostgreSQL database for the tests that need PostgreSQL (``needs_postgres``): the
  suite's own when it runs on PostgreSQL, otherwise one created for this session (as .ci/run
  does) and dropped at its end. It is skipped on a developer's machine without PostgreSQL,
  never in CI (:func:`tests.conftest.needs`).
* :class:`Cluster` — web processes (``python app.py``) and job workers (``flask --app app jobs
  worker``) on the test's database, file store and Redis; every process is killed at the end.

Import the fixtures into a test module::

    from tests.cluster import app, cluster, needs_postgres, scratch_postgres  # noqa: F401
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade

from cabinet.extensions import db
from tests.conftest import IN_CI, ON_POSTGRES, TEST_DATABASE_URL, _make_app, _truncate_all
from tests.live_processes import ROOT, ServerProcess, Tablet, close_all, free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SERVER_SECRET_KEY = "cluster-test-secret-key"


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- Redis -------------------------------------------------------------------------------------------


class RedisServer:
    """``redis-server`` on ``127.0.0.1:<port>``, in memory only (``--save '' --appendonly no``)."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    def url(self, db_number: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db_number}"

    def answers(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self, timeout: float = 10) -> RedisServer:
        with open(self.workdir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed binary, our arguments
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: self.answers() or self.process.poll() is not None, timeout, "redis-server")
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.workdir / 'redis.log').read_text()[-2000:]}")
        return self

    def kill(self) -> None:
        """SIGKILL, as when the Redis host dies: clients get "connection refused" from now on."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


redis_server_installed = os.path.exists(REDIS_SERVER)


@pytest.fixture
def redis_server(tmp_path):
    """A private, running Redis; killed at the end of the test."""
    if not redis_server_installed:
        if IN_CI:
            pytest.fail(f"{REDIS_SERVER} is missing (apt-get install redis-server)")
        pytest.skip("needs redis-server (apt-get install redis-server)")
    server = RedisServer(tmp_path / "redis")
    try:
        yield server.start()
    finally:
        server.kill()


# --- PostgreSQL --------------------------------------------------------------------------------------


def postgres_admin_url() -> str:
    """The maintenance database of the PostgreSQL server the tests use (as .ci/run does)."""
    if os.environ.get("PG_ADMIN_URL"):
        return os.environ["PG_ADMIN_URL"]
    if ON_POSTGRES:
        url = sa.engine.make_url(TEST_DATABASE_URL).set(drivername="postgresql", database="postgres")
        return url.render_as_string(hide_password=False)
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin(sql: str) -> None:
    with psycopg.connect(postgres_admin_url(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def scratch_postgres(tmp_path_factory) -> str:
    """A migrated PostgreSQL database for this session, when the suite itself runs on SQLite."""
    try:
        _admin("SELECT 1")
    except psycopg.Error as error:
        if IN_CI:
            raise
        pytest.skip(f"needs PostgreSQL ({postgres_admin_url()}): {error}")
    name = f"cabinet_cluster_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _admin(f"CREATE DATABASE {name}")
    admin = sa.engine.make_url(postgres_admin_url())
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    try:
        app = _make_app(url, tmp_path_factory.mktemp("scratch-instance"))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield url
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def needs_postgres():
    """Ask for it, and the test's ``app`` is on PostgreSQL: the suite's database on a PostgreSQL
    run, a scratch database (:func:`scratch_postgres`) on a SQLite run. Never a silent pass."""


@pytest.fixture
def app(request, make_app, tmp_path):
    """conftest's ``app``, except on PostgreSQL whenever the test asks for ``needs_postgres``."""
    if ON_POSTGRES or "needs_postgres" not in request.fixturenames:
        app = make_app()
        with app.app_context():
            yield app
        return
    app = _make_app(request.getfixturevalue("scratch_postgres"), tmp_path / "instance")
    try:
        with app.app_context():
            yield app
    finally:
        with app.app_context():
            db.session.remove()
            _truncate_all()
            db.engine.dispose()


def on_postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


# --- processes ---------------------------------------------------------------------------------------


class JobWorker(ServerProcess):
    """``flask --app app jobs worker`` in a subprocess (the deployment's job worker)."""

    def start(self, timeout: float = 30.0) -> JobWorker:
        if self.running:
            raise RuntimeError("the worker is already running")
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own entry point
                [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        marker = "e-Cabinet job worker:"
        wait_until(lambda: self.process.poll() is not None or self.log_since_start().count(marker),
                   timeout, "the job worker to start")
        if self.process.poll() is not None:
            raise RuntimeError(f"the job worker exited with {self.process.returncode}:\n{self.log_tail()}")
        return self

    def log_since_start(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text.rsplit(f"--- start {self.starts} ", 1)[-1]


class Cluster:
    """The processes of one test, all on the test app's database and file store."""

    def __init__(self, app, workdir: Path):
        self.app = app
        self.workdir = workdir
        self.processes: list[ServerProcess] = []
        self.tablets: list[Tablet] = []
        self.redis: RedisServer | None = None
        self.channel = f"cabinet-test-{uuid.uuid4().hex}"

    def env(self, **extra: str | None) -> dict[str, str | None]:
        n = len(self.processes)
        instance = self.workdir / f"process{n}"
        instance.mkdir(parents=True, exist_ok=True)
        return {"DATABASE_URL": self.app.config["SQLALCHEMY_DATABASE_URI"],
                "SECRET_KEY": SERVER_SECRET_KEY,
                "CABINET_INSTANCE_PATH": str(instance),
                "CABINET_STORAGE_DIR": self.app.config.get("CABINET_STORAGE_DIR") or str(instance / "blobs"),
                "CABINET_PASSWORD_PROFILE": "CHEAPEST",
                "CABINET_LOGIN_RATE_LIMIT": "1000 per minute",
                "CABINET_SOCKETIO_CHANNEL": self.channel,
                "REDIS_URL": self.redis.url() if self.redis is not None else None,
                **extra}

    def _commit(self) -> None:
        # The processes must see the test's data; on SQLite, our write lock must be free.
        db.session.commit()

    def server(self, **env: str | None) -> ServerProcess:
        """Start ``python app.py`` (gevent, websockets) and return once it answers."""
        return self.start(servers=1, **env)[0]

    def worker(self, **env: str | None) -> JobWorker:
        """Start ``flask --app app jobs worker`` and return once it runs its consumer."""
        return self.start(workers=1, **env)[0]

    def start(self, *, servers: int = 0, workers: int = 0, **env: str | None) -> list[ServerProcess]:
        """Start ``servers`` web processes and ``workers`` job workers side by side (a process takes
        a second or two to import the app) and return them once all are up."""
        self._commit()
        new: list[ServerProcess] = []
        for kind, count in (("server", servers), ("worker", workers)):
            for _ in range(count):
                cls = ServerProcess if kind == "server" else JobWorker
                process = cls(self.env(**env), self.workdir / f"{kind}{len(self.processes)}.log")
                self.processes.append(process)
                new.append(process)
        with ThreadPoolExecutor(max_workers=len(new)) as pool:
            for future in [pool.submit(process.start) for process in new]:
                future.result()
        return new

    def tablet(self, server: ServerProcess, token: str | None, name: str = "", *,
               reconnect: bool = False) -> Tablet:
        tablet = Tablet(server.url, token, name, reconnect=reconnect)
        self.tablets.append(tablet)
        return tablet.connect()

    def stop(self) -> None:
        # The processes first: a tablet whose server is gone closes at once, while a tablet closing
        # a live connection waits for the server's close frame.
        for process in self.processes:
            process.kill()
        close_all(self.tablets)

    def logs(self) -> str:
        return "\n".join(f"=== {p.log_path.name}\n{p.log_tail(60)}" for p in self.processes)


@pytest.fixture
def cluster(app, tmp_path):
    """A :class:`Cluster` on the test's database; every process is killed (SIGKILL: nothing to
    wait for) before the database is cleaned."""
    cluster = Cluster(app, tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.stop()


# --- talking to a server -----------------------------------------------------------------------------


class Api:
    """The JSON API of one server, as one user (a bearer token)."""

    def __init__(self, server: ServerProcess, token: str, timeout: float = 10):
        self.base = f"{server.url}/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=kwargs.pop("timeout", self.timeout),
                                    **kwargs)


def meeting_document(cabinet, meeting_id: int) -> int:
    """Publish a two-page PDF to the meeting (through the service, as the secretary); its id."""
    from cabinet.meetings.models import Meeting
    from tests.test_documents import blank_pdf, published

    document = published(cabinet["thuky"], db.session.get(Meeting, meeting_id), data=blank_pdf(2))
    db.session.commit()
    return document.id


def rows(sql: str, **params) -> list:
    """Read the shared database through a connection of our own, closed at once."""
    with db.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()
