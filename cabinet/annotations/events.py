"""Live sync of annotations over Socket.IO: messages only, after each committed change.

Writes go through HTTP (the API or the viewer's JSON routes), so a client knows from the answer
whether its change was saved; sockets only tell the author's other devices, and the people an
annotation is shared with, what changed. Every message goes to one user's own room
(:func:`cabinet.live.events.user_room`), never to a meeting-wide room: who may see a shared
annotation depends on each person's clearance.

- ``annotation.saved`` to the author: ``{"document_id", "annotation": <W3C annotation>}``.
- ``annotation.shared`` to each other person who may see it now (newly shared, or changed):
  ``{"document_id", "annotation": <W3C annotation>}``.
- ``annotation.deleted`` to the author and to those who could see it:
  ``{"document_id", "annotation_id", "reason": "deleted" | "unshared"}``.

A message queue outage is logged and never fails the change (it is committed already); clients
reload the list when they reconnect.
"""

from __future__ import annotations

import logging

from cabinet.annotations import service
from cabinet.annotations.w3c import to_json
from cabinet.extensions import socketio
from cabinet.live.events import user_room

log = logging.getLogger(__name__)


def _emit(event: str, payload: dict, user_id: int) -> None:
    try:
        socketio.emit(event, payload, to=user_room(user_id))
    except Exception:  # the message queue is down: the change itself is saved
        log.warning("could not send %s to user %s", event, user_id, exc_info=True)


@service.annotation_changed.connect
def _on_change(actor, *, action: str, annotation, public_id: str, document_id: int, owner_id: int,
               before: set[int], after: set[int], **_extra) -> None:
    try:
        if action == "deleted":
            gone = {"document_id": document_id, "annotation_id": public_id, "reason": "deleted"}
            for user_id in {owner_id} | before:
                _emit("annotation.deleted", gone, user_id)
            return
        current = service.current_version_number(annotation.document)
        _emit("annotation.saved", {"document_id": document_id,
                                   "annotation": to_json(annotation, actor, current_version=current)},
              owner_id)
        if after:
            # The same view for every other person (only the author's differs: mine, shared_with).
            shared = {"document_id": document_id, "annotation": to_json(
                annotation, _Viewer(), current_version=current)}
            for user_id in sorted(after):
                _emit("annotation.shared", shared, user_id)
        unshared = {"document_id": document_id, "annotation_id": public_id, "reason": "unshared"}
        for user_id in sorted(before - after):
            _emit("annotation.deleted", unshared, user_id)
    except Exception:  # never let a notification turn a saved change into an error
        log.exception("could not announce annotation %s", public_id)


class _Viewer:
    """Someone who is not the author (for :func:`to_json`)."""

    id = None
