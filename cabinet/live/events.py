"""Socket.IO connection handling.

A connection must prove who it is at connect time, with the browser's session cookie or
``auth={"token": "<API token>"}``; otherwise it is refused. Every later event re-checks the
user (``socket_user()``), so a disabled account or a changed password ends its sockets too.

The sid → user map is per process on purpose: a Socket.IO connection lives in exactly one
worker process. Nothing that must survive a restart is kept here.

A socket opened with the session cookie joins the room ``session:<id>`` of its browser session.
When that session ends (logout, "log out other devices", a disabled account, a password change)
its sockets are told ``session.ended`` through the room — in every process, via the message
queue — and closed: at once in the process that ended it, and within
:data:`SESSION_CHECK_SECONDS` in the others, whose sweep (:func:`end_stale_sockets`) also closes
the sockets of sessions that reached ``CABINET_SESSION_MAX_HOURS``. Meanwhile every event of such
a socket is refused (``socket_user()`` checks the session each time).
"""

from __future__ import annotations

import functools
import logging
import threading

from flask import Flask, current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_socketio import ConnectionRefusedError as SocketRefused
from flask_socketio import disconnect, join_room, leave_room
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from cabinet.auth import service as auth_service
from cabinet.auth import sessions as browser_sessions
from cabinet.auth.web import live_browser_session, load_user_from_session_id
from cabinet.core.errors import BadRequest, DomainError
from cabinet.core.http import json_details, server_busy_message
from cabinet.core.signals import browser_sessions_ended, participant_removed, sessions_revoked
from cabinet.core.types import MAX_ID
from cabinet.extensions import db, socketio
from cabinet.live import payloads, service
from cabinet.meetings import access
from cabinet.users.models import User

log = logging.getLogger(__name__)

#: Seconds between two sweeps of a process's sockets for ended or expired browser sessions.
SESSION_CHECK_SECONDS = 15

# sid → (Flask-Login's "<user id>:<session version>", the browser session's id or None for a token)
_connections: dict[str, tuple[str, int | None]] = {}
_sweeper_lock = threading.Lock()
_sweeper_started = False


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(browser_session_id: int) -> str:
    """The room of every socket opened by one browser session (one device)."""
    return f"session:{browser_session_id}"


def _user_from_auth(auth) -> tuple[User | None, int | None]:
    """The connecting user and their browser session's id (None for an API token)."""
    if current_user and current_user.is_authenticated:
        # The user loader checked the browser session (not revoked, not too old): the pages'
        # rule, applied here too.
        row = live_browser_session()
        if row is None:
            return None, None
        return current_user._get_current_object(), row.id
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        token = auth_service.token_from_raw(auth["token"])
        if token is not None:
            return token.user, None
    return None, None


def socket_user() -> User | None:
    """The user of the current socket event, or None (and the socket is closed): the shared guard
    every event handler passes first. It re-checks the user (disabled, password changed) and the
    browser session (logged out elsewhere, revoked, past its maximum age)."""
    user_session, browser_session_id = _connections.get(request.sid, (None, None))
    user = load_user_from_session_id(user_session) if user_session else None
    if user is not None and browser_session_id is not None \
            and browser_sessions.ended_among([browser_session_id]):
        user = None
    if user is None:
        _connections.pop(request.sid, None)
        disconnect()
    return user


@socketio.on("connect")
def on_connect(auth=None):
    user, browser_session_id = _user_from_auth(auth)
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
    _connections[request.sid] = (user.get_id(), browser_session_id)
    join_room(user_room(user.id))
    if browser_session_id is not None:
        join_room(session_room(browser_session_id))
        _start_sweeper(current_app._get_current_object())


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


def _end_room(room: str, reason: str) -> None:
    """Tell every socket in ``room`` (in any worker, via the message queue) that its session
    ended, then close those of this process at once (the other processes' sweeps close theirs)."""
    try:
        socketio.emit("session.ended", {"reason": reason}, to=room)
    except Exception:  # the message queue is down: sockets still fail their next check
        log.warning("could not notify the sockets of %s", room, exc_info=True)
    server = socketio.server
    if server is None:  # no Socket.IO server in this process (a command-line tool)
        return
    for sid, _eio_sid in list(server.manager.get_participants("/", room)):
        _connections.pop(sid, None)
        server.disconnect(sid, namespace="/")


@sessions_revoked.connect
def _end_sockets(user: User, **_kwargs) -> None:
    """Every session of ``user`` ended (disabled, password changed or reset): end their sockets."""
    _end_room(user_room(user.id), "revoked")


@browser_sessions_ended.connect
def _end_session_sockets(_sender, session_ids: list[int], reason: str, **_kwargs) -> None:
    """Some browser sessions ended (logout, "log out other devices"): end their sockets."""
    for session_id in session_ids:
        _end_room(session_room(session_id), reason)


def end_stale_sockets() -> int:
    """Close this process's sockets whose browser session ended (revoked in another process, or
    past ``CABINET_SESSION_MAX_HOURS``), after telling them ``session.ended``; how many. One query
    for all of them: cheap enough to run every few seconds."""
    manager = socketio.server.manager
    by_sid = {}
    for sid, (_user, session_id) in list(_connections.items()):
        if not manager.is_connected(sid, "/"):  # gone without its disconnect handler: forget it
            _connections.pop(sid, None)
        elif session_id is not None:
            by_sid[sid] = session_id
    ended = browser_sessions.ended_among(by_sid.values())
    closed = 0
    for sid, session_id in by_sid.items():
        if session_id in ended:
            socketio.emit("session.ended", {"reason": ended[session_id]}, to=sid)
            _connections.pop(sid, None)
            socketio.server.disconnect(sid, namespace="/")
            closed += 1
    return closed


def _start_sweeper(app: Flask) -> None:
    """Start this process's sweep (once), at its first browser socket. Not under tests, which
    call :func:`end_stale_sockets` themselves."""
    global _sweeper_started
    if app.testing:
        return
    with _sweeper_lock:
        if _sweeper_started:
            return
        _sweeper_started = True
    socketio.start_background_task(_sweep_forever, app)


def _sweep_forever(app: Flask) -> None:
    while True:
        socketio.sleep(SESSION_CHECK_SECONDS)
        try:
            with app.app_context():
                end_stale_sockets()
        except Exception:  # the database is away: the next sweep tries again
            log.warning("could not check the sockets' sessions", exc_info=True)


# --- the meeting room ----------------------------------------------------------------------------
#
# Every event is acknowledged with {"ok": true, ...} or {"ok": false, "error": {code, message}}:
# a tablet knows whether its vote or its request counted, and can retry when it got no answer.


def _error(code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"ok": False, "error": body}


def _busy(name: str) -> dict:
    """Every database connection stayed busy (an overload): the ack says so, the socket stays."""
    db.session.rollback()
    log.warning("socket event %s: no database connection free", name)
    return _error("server_busy", server_busy_message())


def room_event(name: str):
    """Declare a room event: the socket's user is re-checked, ``data`` must be an object, and
    domain errors become error acknowledgements (the same codes and messages as the API)."""

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(data=None):
            try:
                user = socket_user()
            except SQLAlchemyTimeoutError:  # no free database connection: overload, say so
                return _busy(name)
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
            except SQLAlchemyTimeoutError:
                return _busy(name)
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
    join_room(member_room(meeting.id, user.id))
    return {"state": payloads.room_state(user, meeting)}


@room_event("meeting.leave")
def leave_meeting(user: User, data: dict) -> dict:
    meeting_id = _id(data, "meeting_id")
    leave_room(payloads.room(meeting_id))
    leave_room(member_room(meeting_id, user.id))
    return {}


# --- taking someone out of a meeting's room --------------------------------------------------------
#
# A socket joins two rooms with ``meeting.join``: the meeting's room (its broadcasts) and a
# membership room naming the user, ``meeting:<id>:user:<id>``. When the user loses access
# (taken off the participants, a deputy withdrawn or rejected), the membership room is closed
# with ``close_room``, which the message queue carries to every worker process; each process,
# before closing it, takes the sockets in it out of the meeting's room
# (:func:`leave_with_member_room`, called by cabinet.live.queue for the other processes). A
# socket's id alone would not do: python-socketio only knows the sockets of its own process.


def member_room(meeting_id: int, user_id: int) -> str:
    """The room of one user's sockets that joined one meeting's room."""
    return f"{payloads.room(meeting_id)}:user:{user_id}"


def leave_with_member_room(manager, room: str | None, namespace: str = "/") -> int:
    """If ``room`` is a membership room, take its sockets of this process out of the meeting's
    room; how many. Called before the membership room is closed, in every process."""
    prefix, _sep, user = (room or "").rpartition(":user:")
    if not prefix.startswith("meeting:") or not user.isdigit():
        return 0
    sids = [sid for sid, _eio_sid in list(manager.get_participants(namespace, room))]
    for sid in sids:
        manager.leave_room(sid, namespace, prefix)
    return len(sids)


def remove_from_meeting_room(meeting_id: int, user_id: int) -> None:
    """Tell the user's sockets ``meeting.removed`` and take them out of the meeting's room, in
    every process. A failure (the message queue is down) is logged: the change stands, and the
    user's next room event is refused anyway (their access is checked each time)."""
    room = member_room(meeting_id, user_id)
    try:
        socketio.emit("meeting.removed", {"meeting_id": meeting_id}, to=user_room(user_id))
    except Exception:  # noqa: BLE001
        log.warning("could not tell user %s they left meeting %s", user_id, meeting_id, exc_info=True)
    server = socketio.server
    if server is None:  # no Socket.IO server in this process (a command-line tool)
        return
    leave_with_member_room(server.manager, room)  # this process's sockets, at once
    try:
        server.close_room(room, namespace="/")  # and, through the message queue, the others'
    except Exception:  # noqa: BLE001
        log.warning("could not take user %s out of meeting %s's room", user_id, meeting_id, exc_info=True)


@participant_removed.connect
def _participants_removed(_sender, meeting_id: int, user_ids: list[int], **_kwargs) -> None:
    for user_id in user_ids:
        remove_from_meeting_room(meeting_id, user_id)


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
