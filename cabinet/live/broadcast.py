"""Telling a meeting's room what changed, after the change is committed.

With ``REDIS_URL`` set, Flask-SocketIO publishes through Redis, so tablets connected to any
worker process receive it. A broadcast that fails (the message queue is down) is logged and
never undoes or fails the write: tablets catch up with ``meeting.state`` when they reconnect.
"""

from __future__ import annotations

import logging

from cabinet.core import signals
from cabinet.extensions import db, socketio
from cabinet.live import payloads
from cabinet.meetings.models import AgendaItem, Meeting

log = logging.getLogger(__name__)


def emit(event: str, payload: dict, meeting_id: int) -> None:
    try:
        socketio.emit(event, payload, to=payloads.room(meeting_id))
    except Exception:  # noqa: BLE001 - the write stands; clients resync on reconnect
        log.warning("could not broadcast %s to meeting %s", event, meeting_id, exc_info=True)


def meeting_state(meeting: Meeting) -> None:
    emit("meeting.state", payloads.meeting_state(meeting), meeting.id)


def attendance(meeting: Meeting) -> None:
    emit("attendance.changed", payloads.attendance(meeting), meeting.id)


def agenda_current(meeting: Meeting) -> None:
    state = payloads.meeting_state(meeting)
    item = db.session.get(AgendaItem, state["current_item_id"]) if state["current_item_id"] else None
    emit("agenda.current", {"meeting_id": meeting.id,
                            "item": payloads.item_json(item) if item is not None else None}, meeting.id)


def agenda_item(meeting: Meeting, item: AgendaItem) -> None:
    emit("agenda.item", {"meeting_id": meeting.id, "item": payloads.item_json(item)}, meeting.id)


def speaker_queue(meeting: Meeting) -> None:
    emit("speaker.queue", payloads.speaker_queue(meeting), meeting.id)


def vote_opened(meeting: Meeting, vote) -> None:
    emit("vote.opened", payloads.vote(vote), meeting.id)


def vote_tally(meeting_id: int, vote_id: int, *, secret: bool, status: str, eligible: int,
               option_keys: list[str], revision: int | None) -> None:
    emit("vote.tally", payloads.tally_of(vote_id, meeting_id, secret=secret, status=status, eligible=eligible,
                                         option_keys=option_keys, revision=revision), meeting_id)


def vote_closed(meeting: Meeting, vote) -> None:
    emit("vote.closed", payloads.vote(vote), meeting.id)


@signals.documents_published.connect
def _documents_published(_sender, meeting_id: int, document_ids: list[int], **_kwargs) -> None:
    # Ids only: each tablet asks for the list it may see (clearance differs per participant).
    emit("documents.changed", {"meeting_id": meeting_id, "published": document_ids}, meeting_id)


@signals.document_recalled.connect
def _document_recalled(_sender, meeting_id: int, document_id: int, **_kwargs) -> None:
    """To the room and to every participant's own sockets: a viewer open outside the room
    closes the document, and a tablet drops its offline copy."""
    from cabinet.live.events import user_room

    meeting = db.session.get(Meeting, meeting_id)
    users = {p.user_id for p in meeting.participants} | {p.deputy_id for p in meeting.participants
                                                           if p.deputy_id is not None}
    rooms = [payloads.room(meeting_id), *(user_room(uid) for uid in sorted(users))]
    try:
        socketio.emit("document.recalled", {"meeting_id": meeting_id, "document_id": document_id}, to=rooms)
    except Exception:  # noqa: BLE001
        log.warning("could not broadcast the recall of document %s", document_id, exc_info=True)
