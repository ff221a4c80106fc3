"""Socket.IO connection handling.

A connection must prove who it is at connect time, with the browser's session cookie or
``auth={"token": "<API token>"}``; otherwise it is refused. Every later event re-checks the
user (``socket_user()``), so a disabled account or a changed password ends its sockets too.

The sid → user map is per process on purpose: a Socket.IO connection lives in exactly one
worker process. Nothing that must survive a restart is kept here.
"""

from __future__ import annotations

import logging

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from flask_socketio import disconnect, join_room

from cabinet.auth import service as auth_service
from cabinet.auth.web import load_user_from_session_id
from cabinet.core.signals import sessions_revoked
from cabinet.extensions import socketio
from cabinet.users.models import User

_connections: dict[str, str] = {}


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def _user_from_auth(auth) -> User | None:
    if current_user and current_user.is_authenticated:
        return current_user._get_current_object()
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        token = auth_service.token_from_raw(auth["token"])
        if token is not None:
            return token.user
    return None


def socket_user() -> User | None:
    """The user of the current socket event, or None (and the socket is closed)."""
    session_id = _connections.get(request.sid)
    user = load_user_from_session_id(session_id) if session_id else None
    if user is None:
        _connections.pop(request.sid, None)
        disconnect()
    return user


@socketio.on("connect")
def on_connect(auth=None):
    user = _user_from_auth(auth)
    if user is None:
        # python-socketio sends this message to the client as the connect_error reason.
        raise ConnectionRefusedError({"code": "unauthenticated",
                                      "message": _("Log in first, or connect with an API token.")})
    _connections[request.sid] = user.get_id()
    join_room(user_room(user.id))


@socketio.on("disconnect")
def on_disconnect(*_args):
    _connections.pop(request.sid, None)


@socketio.on("session.whoami")
def whoami(_data=None):
    """Acknowledge with the connected user: lets a client check its connection is live."""
    user = socket_user()
    if user is None:
        return {"ok": False, "error": {"code": "unauthenticated",
                                       "message": _("Your session has ended. Please log in again.")}}
    return {"ok": True, "user": {"id": user.id, "username": user.username,
                                 "full_name": user.full_name, "role": user.role}}


@sessions_revoked.connect
def _end_sockets(user: User, **_kwargs) -> None:
    """Tell every open socket of ``user`` (in any worker, via the message queue) to log out."""
    try:
        socketio.emit("session.ended", {"reason": "revoked"}, to=user_room(user.id))
    except Exception:  # the message queue is down: sockets still fail their next check
        logging.getLogger(__name__).warning("could not notify sockets of user %s", user.id,
                                            exc_info=True)
