"""Socket.IO connections must authenticate: session cookie or API token, or refused."""

from __future__ import annotations

import contextlib

from cabinet.extensions import db, socketio
from cabinet.users import service as users_service
from tests.conftest import api_token, login


@contextlib.contextmanager
def fresh_context(app):
    """Socket handlers, like requests, must not share the test's app context (and its g)."""
    db.session.commit()
    with app.app_context():
        yield


def connect(app, **kwargs):
    with fresh_context(app):
        return socketio.test_client(app, **kwargs)


def test_anonymous_connection_is_refused(app):
    sio = connect(app)
    assert not sio.is_connected()


def test_connection_with_a_wrong_token_is_refused(app, member):
    sio = connect(app, auth={"token": "cab_not-a-real-token"})
    assert not sio.is_connected()


def test_connection_with_malformed_auth_is_refused(app, member):
    for auth in ({"token": 123}, {"token": None}, ["token"], "token"):
        assert not connect(app, auth=auth).is_connected()


def test_logged_in_browser_connects_with_its_session_cookie(app, client, member):
    login(client, "bt.tuphap")
    sio = connect(app, flask_test_client=client)
    assert sio.is_connected()
    with fresh_context(app):
        ack = sio.emit("session.whoami", callback=True)
    assert ack["ok"] and ack["user"]["username"] == "bt.tuphap"


def test_tablet_app_connects_with_an_api_token(app, client, member):
    token = api_token(client, "bt.tuphap")
    sio = connect(app, auth={"token": token})
    assert sio.is_connected()
    with fresh_context(app):
        ack = sio.emit("session.whoami", callback=True)
    assert ack["user"]["full_name"] == member.full_name


def test_revoked_token_cannot_connect(app, client, member):
    token = api_token(client, "bt.tuphap")
    client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"})
    assert not connect(app, auth={"token": token}).is_connected()


def test_disabling_an_account_ends_its_open_socket(app, client, admin, member):
    login(client, "bt.tuphap")
    sio = connect(app, flask_test_client=client)
    assert sio.is_connected()
    admin_id, member_id = admin.id, member.id
    with fresh_context(app):
        users_service.set_active(db.session.get(type(admin), admin_id), member_id, False)
    # Told, then closed at once (the test client keeps what it received in its queue).
    assert any(message["name"] == "session.ended" for message in sio.queue)
    assert not sio.is_connected()
