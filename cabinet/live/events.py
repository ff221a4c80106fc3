"""Socket.IO connection handling.

A connection must prove who it is at connect time, with the browser's session cookie or
``auth={"token": "<API token>"}``; otherwise it is refused. Every later event re-checks the
user (``socket_user()``), so a disabled account or a changed password ends its sockets too.

The sid → user map is per process on purpose: a Socket.IO connection lives in exactly one
worker process. Nothing that must survive a restart is kept here.
"""

from __future__ import annotations

import functools
import logging

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from flask_socketio import ConnectionRefusedError as SocketRefused
from flask_socketio import disconnect, join_room, leave_room

from cabinet.auth import service as auth_service
from cabinet.auth.web import load_user_from_session_id, session_expired
from cabinet.core.errors import BadRequest, DomainError
from cabinet.core.http import json_details
from cabinet.core.signals import sessions_revoked
from cabinet.core.types import MAX_ID
from cabinet.extensions import db, socketio
from cabinet.live import payloads, service
from cabinet.meetings import access
from cabinet.users.models import User

log = logging.getLogger(__name__)

_connections: dict[str, str] = {}


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def _user_from_auth(auth) -> User | None:
    if current_user and current_user.is_authenticated:
        # The pages' session rules apply here too: an expired session opens no socket.
        return None if session_expired() else current_user._get_current_object()
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
        # python-socketio's own exception (the built-in one only gets a generic refusal): the
        # client's connect_error carries {"message", "data": {"code", "message"}}.
        message = _("Log in first, or connect with an API token.")
        raise SocketRefused(message, {"code": "unauthenticated", "message": message})
    if user.must_change_password:
        # As on the pages and the API: a temporary password (which the administrator who set it
        # knows) is for changing, only — not for voting or speaking in someone's name.
        message = _("An administrator reset your password. Choose your own to continue.")
        raise SocketRefused(message, {"code": "password_change_required", "message": message})
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


# --- the meeting room ----------------------------------------------------------------------------
#
# Every event is acknowledged with {"ok": true, ...} or {"ok": false, "error": {code, message}}:
# a tablet knows whether its vote or its request counted, and can retry when it got no answer.


def _error(code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"ok": False, "error": body}


def room_event(name: str):
    """Declare a room event: the socket's user is re-checked, ``data`` must be an object, and
    domain errors become error acknowledgements (the same codes and messages as the API)."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(data=None):
            user = socket_user()
            if user is None:
                return _error("unauthenticated", _("Your session has ended. Please log in again."))
            if data is None:
                data = {}
            if not isinstance(data, dict):
                return _error("bad_request", _("Send a JSON object."))
            try:
                return {"ok": True, **(handler(user, data) or {})}
            except DomainError as exc:
                db.session.rollback()
                return _error(exc.code, exc.message, json_details(exc.details))
            except Exception:
                db.session.rollback()
                log.exception("socket event %s failed", name)
                return _error("server_error", _("Something went wrong on the server. Try again."))

        socketio.on_event(name, wrapper)
        return wrapper

    return decorate


def _id(data: dict, key: str, *, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise BadRequest(_("%(field)s must be a positive whole number.", field=key),
                         details={"fields": [{"field": key, "message": _("A positive whole number.")}]})
    return value


def _text(data: dict, key: str, *, limit: int = 10000) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(_("%(field)s must be text.", field=key),
                         details={"fields": [{"field": key, "message": _("Text expected.")}]})
    return value[:limit]


@room_event("meeting.join")
def join_meeting(user: User, data: dict) -> dict:
    """Join a meeting's room; acknowledged with its whole current state. Re-joining (after a
    reconnect) is the same call and gives the state again."""
    meeting = access.get_meeting(user, _id(data, "meeting_id"))
    join_room(payloads.room(meeting.id))
    return {"state": payloads.room_state(user, meeting)}


@room_event("meeting.leave")
def leave_meeting(user: User, data: dict) -> dict:
    leave_room(payloads.room(_id(data, "meeting_id")))
    return {}


@room_event("meeting.state")
def meeting_state(user: User, data: dict) -> dict:
    meeting = access.get_meeting(user, _id(data, "meeting_id"))
    return {"state": payloads.room_state(user, meeting)}


@room_event("meeting.open")
def open_meeting(user: User, data: dict) -> dict:
    meeting_id = _id(data, "meeting_id")
    service.open_meeting(user, meeting_id)
    return {}


@room_event("meeting.close")
def close_meeting(user: User, data: dict) -> dict:
    service.close_meeting(user, _id(data, "meeting_id"))
    return {}


@room_event("attendance.check_in")
def check_in(user: User, data: dict) -> dict:
    """Check oneself in, or (chair, secretariat) someone else: ``{"meeting_id", "user_id"?,
    "present"?}``."""
    present = data.get("present", True)
    if not isinstance(present, bool):
        raise BadRequest(_("present must be true or false."))
    service.check_in(user, _id(data, "meeting_id"), _id(data, "user_id", required=False), present=present)
    return {}


@room_event("agenda.set_current")
def set_current_item(user: User, data: dict) -> dict:
    service.set_current_item(user, _id(data, "meeting_id"), _id(data, "item_id", required=False))
    return {}


@room_event("agenda.conclude")
def conclude_item(user: User, data: dict) -> dict:
    item = service.conclude_item(user, _id(data, "meeting_id"), _id(data, "item_id"),
                                 _text(data, "conclusion", limit=20000))
    return {"item": payloads.item_json(item)}


@room_event("agenda.defer")
def defer_item(user: User, data: dict) -> dict:
    item = service.defer_item(user, _id(data, "meeting_id"), _id(data, "item_id"), _text(data, "reason"))
    return {"item": payloads.item_json(item)}


@room_event("speaker.request")
def request_floor(user: User, data: dict) -> dict:
    request_ = service.request_floor(user, _id(data, "meeting_id"))
    return {"request_id": request_.id}


@room_event("speaker.withdraw")
def withdraw(user: User, data: dict) -> dict:
    service.withdraw_request(user, _id(data, "meeting_id"), _id(data, "request_id", required=False))
    return {}


@room_event("speaker.give_floor")
def give_floor(user: User, data: dict) -> dict:
    seconds = _id(data, "seconds", required=False)
    service.give_floor(user, _id(data, "meeting_id"), _id(data, "request_id"), seconds)
    return {}


@room_event("speaker.end")
def end_floor(user: User, data: dict) -> dict:
    service.end_floor(user, _id(data, "meeting_id"))
    return {}


@room_event("vote.open")
def open_vote(user: User, data: dict) -> dict:
    options = data.get("options")
    if options is not None and (not isinstance(options, list)
                                or not all(isinstance(o, str) for o in options)):
        raise BadRequest(_("options must be a list of texts."))
    secret = data.get("secret", False)
    if not isinstance(secret, bool):
        raise BadRequest(_("secret must be true or false."))
    vote = service.open_vote(user, _id(data, "meeting_id"), question=_text(data, "question", limit=2000),
                             agenda_item_id=_id(data, "agenda_item_id", required=False),
                             secret=secret, options=options)
    return {"vote": payloads.vote(vote, user)}


@room_event("vote.cast")
def cast_vote(user: User, data: dict) -> dict:
    """``{"vote_id", "choice", "receipt"?}``; acknowledged once the ballot is stored."""
    choice = data.get("choice")
    if not isinstance(choice, str):
        raise BadRequest(_("choice must be text."),
                         details={"fields": [{"field": "choice", "message": _("Choose an option.")}]})
    receipt = data.get("receipt")
    result = service.cast_vote(user, _id(data, "vote_id"), choice,
                               receipt if isinstance(receipt, str) else None)
    return {"vote_id": result.vote.id, "choice": result.choice, "changed": result.changed,
            "receipt": result.receipt}


@room_event("vote.close")
def close_vote(user: User, data: dict) -> dict:
    vote = service.close_vote(user, _id(data, "vote_id"))
    return {"vote": payloads.vote(vote)}
