"""Fixtures: a fresh database for every test, on SQLite (default) or PostgreSQL.

Set ``TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/<db>`` to run the suite on
PostgreSQL (``.ci/run`` does both); the run works in a database of its own, created next to
``<db>`` on that server and dropped at the end, so runs side by side do not disturb each other.
The schema is always built by the Alembic migrations, never by ``create_all``, so every test run
also proves the migrations work.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

# Before the app is imported: argon2's cheapest profile, meant for test suites.
os.environ.setdefault("CABINET_PASSWORD_PROFILE", "CHEAPEST")
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from cabinet import create_app
from cabinet.extensions import db
from cabinet.users import service as users_service

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
IN_CI = bool(os.environ.get("CI"))
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def _private_database(url: str) -> str:
    """A database of this test run's own on the server of ``url``, dropped when the run ends.

    The suite empties and rebuilds its database (``DROP SCHEMA public``): two runs pointed at the
    same one — two developers, two checkouts, a run beside CI — would wreck each other's tests.
    ``TEST_DATABASE_PRIVATE=0`` uses the named database itself.
    """
    if os.environ.get("TEST_DATABASE_PRIVATE") == "0":
        return url
    import atexit
    import secrets

    server = sa.engine.make_url(url)
    name = f"{server.database or 'cabinet'}_run_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return server.set(database=name).render_as_string(hide_password=False)


if ON_POSTGRES:
    TEST_DATABASE_URL = _private_database(TEST_DATABASE_URL)
PASSWORD = "correct-horse-battery"

BASE_TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "RATELIMIT_ENABLED": False,
    "RATELIMIT_STORAGE_URI": "memory://",
    "REDIS_URL": None,
    "SOCKETIO_ASYNC_MODE": "threading",
}


class FreshContextClient(FlaskClient):
    """A test client whose every request runs in its own application context.

    Flask reuses an already pushed app context for a request, so without this the test's
    context (and its ``g``: Flask-Login's cached user, the CSRF token, the database session)
    would leak from one request, or one simulated device, to the next.
    """

    def open(self, *args, **kwargs):
        # End the test's own transaction first: its changes become visible to the request,
        # it releases SQLite's write lock, and objects reload fresh data after the response.
        if has_app_context():
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _make_app(database_url: str, instance: Path, **overrides):
    os.environ["CABINET_INSTANCE_PATH"] = str(instance)
    config = {**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **overrides}
    app = create_app(config)
    app.test_client_class = FreshContextClient
    return app


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """Run the migrations once: into a template SQLite file, or into the PostgreSQL test database."""
    if ON_POSTGRES:
        engine = sa.create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.sqlite3'}"
    app = _make_app(url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def _truncate_all() -> None:
    tables = ", ".join(t.name for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def make_app(migrated_template, tmp_path):
    """Build an app on a fresh copy of the migrated database; extra settings as keywords."""
    created = []

    def factory(**overrides):
        if ON_POSTGRES:
            url = migrated_template
        else:
            target = tmp_path / f"db{len(created)}.sqlite3"
            shutil.copyfile(migrated_template.removeprefix("sqlite:///"), target)
            url = f"sqlite:///{target}"
        app = _make_app(url, tmp_path / "instance", **overrides)
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            if ON_POSTGRES:
                _truncate_all()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Create an account through the real service; returns the User."""
    counter = iter(range(1, 10_000))

    def factory(username: str | None = None, *, role: str = "member", password: str = PASSWORD,
                clearance: str = "none", full_name: str | None = None, **extra):
        n = next(counter)
        data = users_service.UserData(
            username=username or f"user{n}", full_name=full_name or f"Nguyễn Văn Thử {n}",
            title=extra.pop("title", "Bộ trưởng"), organisation=extra.pop("organisation", "Bộ Tư pháp"),
            role=role, clearance=clearance, **extra)
        return users_service.create_user(None, data, password)

    return factory


@pytest.fixture
def admin(make_user):
    return make_user("quantri", role="admin")


@pytest.fixture
def member(make_user):
    return make_user("bt.tuphap", role="member")


# Both the hand-written hidden inputs and WTForms' rendering of form.csrf_token.
CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a page hands out (the same one for the whole session)."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD, **kwargs):
    """Post the login form as a browser would (CSRF token included)."""
    token = csrf_token(client, "/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}, **kwargs)


def api_token(client, username: str, password: str = PASSWORD, otp: str | None = None) -> str:
    body = {"username": username, "password": password}
    if otp:
        body["otp"] = otp
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


@pytest.fixture
def cabinet(make_user):
    """A small cabinet: a secretary, the PM (chair), two ministers, a guest, an outsider, a deputy."""
    return {
        "thuky": make_user("thuky", role="secretariat", full_name="Trần Thị Thu Hà"),
        "pm": make_user("thutuong", full_name="Phạm Quốc Hưng", title="Thủ tướng Chính phủ"),
        "tuphap": make_user("bt.tuphap", full_name="Phan Thị Ngọc Diệp"),
        "yte": make_user("bt.yte", full_name="Tôn Nữ Thanh Thủy"),
        "guest": make_user("khach", role="guest", full_name="Lâm Hữu Nghĩa"),
        "outsider": make_user("bt.khac", full_name="Người Không Mời"),
        "thu_truong": make_user("tt.tuphap", full_name="Thứ trưởng Tư pháp"),
    }


@pytest.fixture
def meeting(cabinet):
    """A regular meeting in ten days: the PM chairs, two ministers, the secretary, a guest."""
    from tests.meeting_factories import schedule

    return schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["tuphap"], cabinet["yte"]],
                    secretaries=[cabinet["thuky"]], guests=[cabinet["guest"]])


@pytest.fixture
def document(client):
    """The OpenAPI document the app serves."""
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def api(client, cabinet, document):
    """``api(username, method, url, json=...)``: call the API as that user of the ``cabinet``; every
    answer is checked against the OpenAPI document."""
    from tests.test_api_meetings import api_caller

    return api_caller(client, document)


@pytest.fixture
def room(cabinet):
    """A meeting starting in half an hour (check-in is open) with two agenda items."""
    from tests.meeting_factories import room_meeting

    return room_meeting(cabinet)


def needs(available: bool, what: str):
    """Skip a test whose system dependency (a browser, LibreOffice, Redis) is missing on a
    developer's machine — but never in CI, which installs them all (.ci/lib.sh): there the test
    runs and fails, so a missing piece cannot hide behind a skip."""
    return pytest.mark.skipif(not available and not IN_CI, reason=f"needs {what}")
