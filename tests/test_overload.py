"""Overload: when every database connection of a process stays busy for the pool's whole timeout,
users are told the server is busy and when to retry (503 ``server_busy``, an error ack on the
socket) — not "something went wrong" with a traceback in the log.

The pool is made small (one connection, no overflow, a short wait) and its only connection is
held by the test, as a burst of slow requests would hold them on a meeting day.
"""

from __future__ import annotations

import contextlib

import pytest

from cabinet.extensions import db
from tests.conftest import login
from tests.meeting_factories import room_meeting
from tests.test_live_socket import Tablet

TINY_POOL = {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2}}


@pytest.fixture
def app(make_app):
    app = make_app(**TINY_POOL)
    with app.app_context():
        yield app


@contextlib.contextmanager
def every_connection_busy(app):
    """Hold the pool's only connection for the duration (the test's own session released it)."""
    db.session.commit()
    db.session.close()
    with app.app_context(), db.engine.connect() as connection:
        yield connection


def test_a_page_and_the_api_say_the_server_is_busy_and_when_to_retry(app, client, member, caplog):
    login(client, "bt.tuphap")
    with every_connection_busy(app):
        page = client.get("/meetings/")
        api = client.get("/meetings/", headers={"Accept": "application/json"})
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "rất bận" in page.get_data(as_text=True) or "very busy" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.json["error"]["code"] == "server_busy"
    assert "unhandled error" not in caplog.text  # a warning, not a traceback
    assert client.get("/meetings/").status_code == 200  # and it serves again once a connection frees


def test_a_socket_event_gets_a_server_busy_ack_and_the_socket_stays_open(app, cabinet):
    meeting_id = room_meeting(cabinet).id
    tablet = Tablet(app, "bt.tuphap")
    with every_connection_busy(app), app.app_context():
        ack = tablet.sio.emit("meeting.join", {"meeting_id": meeting_id}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "server_busy"
    assert tablet.sio.is_connected()
    assert tablet.join(meeting_id)["ok"] is True
