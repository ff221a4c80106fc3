"""The live response bar of a ballot (Socket.IO).

``ballot.watch`` ``{"ballot_id"}`` joins the ballot's room — for the secretariat and the ballot's
decider only, the readers of its result — and is acknowledged with the current counts. After every
answer, recall, close or decision (``signals.ballot_changed``, sent once committed) the room gets
``ballot.progress`` ``{ballot_id, responded, recipients, status}``: counts only, never who answered
what. A broadcast that fails is logged and never fails the write; a page that reconnects watches
again and gets the counts in the acknowledgement.
"""

from __future__ import annotations

import logging

from flask_babel import gettext as _
from flask_socketio import join_room, leave_room

from cabinet.ballots import service
from cabinet.ballots.models import Ballot
from cabinet.core import signals
from cabinet.core.errors import BadRequest, PermissionDenied
from cabinet.core.types import MAX_ID
from cabinet.extensions import db, socketio
from cabinet.live.events import room_event
from cabinet.users.models import User

log = logging.getLogger(__name__)


def room(ballot_id: int) -> str:
    return f"ballot:{ballot_id}"


def progress(ballot: Ballot) -> dict:
    return {"ballot_id": ballot.id, "responded": service.responded_count(ballot),
            "recipients": len(ballot.recipients), "status": ballot.status}


def _ballot_id(data: dict) -> int:
    value = data.get("ballot_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise BadRequest(_("%(field)s must be a positive whole number.", field="ballot_id"),
                         details={"fields": [{"field": "ballot_id",
                                              "message": _("A positive whole number.")}]})
    return value


@room_event("ballot.watch")
def watch(user: User, data: dict) -> dict:
    """Follow a ballot's response count (secretariat and the decider)."""
    ballot = service.get_ballot(user, _ballot_id(data))
    if not service.can_see_result(user, ballot):
        raise PermissionDenied(_("The result is for the secretariat and the decider."))
    join_room(room(ballot.id))
    return progress(ballot)


@room_event("ballot.unwatch")
def unwatch(user: User, data: dict) -> dict:
    leave_room(room(_ballot_id(data)))
    return {}


@signals.ballot_changed.connect
@signals.ballot_issued.connect
def _broadcast_progress(_sender, ballot_id: int, **_kwargs) -> None:
    try:
        ballot = db.session.get(Ballot, ballot_id)
        if ballot is None:
            return
        socketio.emit("ballot.progress", progress(ballot), to=room(ballot_id))
    except Exception:  # noqa: BLE001 - the answer stands; pages resync when they watch again
        log.warning("could not broadcast the progress of ballot %s", ballot_id, exc_info=True)
