"""The JSON shapes of the meeting room, shared by the socket events, the broadcasts and the API
(documented in docs/realtime.md). One shape per thing, so a tablet that joins, one that
reconnects and one that receives a broadcast all see the same.

Secret votes: no payload ever carries who chose what; while such a vote is open, not even the
per-option counts are sent, only how many have voted (with who voted when, live counts per
option would tell the room each member's choice).
"""

from __future__ import annotations

from cabinet.core.timeutil import utcnow
from cabinet.documents.service import documents_for_meeting
from cabinet.live import service
from cabinet.live.models import OUTCOME_LABELS, STANDARD_LABELS, Outcome, SpeakerRequest, Vote, VoteStatus
from cabinet.meetings import access
from cabinet.meetings.json import iso, item_json, person
from cabinet.meetings.models import Meeting
from cabinet.users.models import User


def room(meeting_id: int) -> str:
    """The Socket.IO room of a meeting's participants (joined only after the access check)."""
    return f"meeting:{meeting_id}"


def phase(meeting: Meeting) -> str:
    state = service.progress_of(meeting)
    if meeting.is_cancelled:
        return "cancelled"
    if state.closed_at is not None:
        return "closed"
    return "open" if state.opened_at is not None else "not_started"


def meeting_state(meeting: Meeting) -> dict:
    state = service.progress_of(meeting)
    return {"meeting_id": meeting.id, "phase": phase(meeting), "opened_at": iso(state.opened_at),
            "closed_at": iso(state.closed_at), "current_item_id": state.current_item_id,
            "speaking_seconds": state.speaking_seconds}


def attendance(meeting: Meeting) -> dict:
    present = service.check_ins(meeting)
    quorum = service.quorum_status(meeting, present)
    people = []
    for participant in meeting.participants:
        entry = present.get(participant.user_id)
        people.append({"user": person(participant.user), "role": participant.role,
                       "votes": participant.votes, "present": bool(entry and entry.present),
                       "checked_in_at": iso(entry.at) if entry else None,
                       "invitation": participant.attendance})
    for entry in present.values():
        if entry.deputy_for_id is not None:
            people.append({"user": person(entry.user), "role": "deputy", "votes": False,
                           "present": entry.present, "checked_in_at": iso(entry.at),
                           "deputy_for": entry.deputy_for_id, "invitation": None})
    return {"meeting_id": meeting.id, "present": quorum.present, "required": quorum.required,
            "voters": quorum.voters, "quorum_met": quorum.met,
            "quorum_basis": service.rules().quorum_basis, "people": people}


def _speaker(request: SpeakerRequest) -> dict:
    return {"id": request.id, "user": person(request.user), "agenda_item_id": request.agenda_item_id,
            "requested_at": iso(request.requested_at), "started_at": iso(request.started_at),
            "limit_seconds": request.limit_seconds}


def speaker_queue(meeting: Meeting) -> dict:
    speaking, waiting = service.speaker_queue(meeting)
    # server_time lets a tablet with a wrong clock show the right countdown.
    return {"meeting_id": meeting.id, "speaking": _speaker(speaking) if speaking else None,
            "waiting": [_speaker(r) for r in waiting], "server_time": iso(utcnow())}


def option_label(vote: Vote, option: dict) -> str:
    return option.get("label") or str(STANDARD_LABELS.get(option["key"], option["key"]))


def tally(vote: Vote, revision: int | None = None) -> dict:
    """What the room may know of a vote's count right now."""
    return tally_of(vote.id, vote.meeting_id, secret=vote.secret, status=vote.status,
                    eligible=vote.eligible_count, option_keys=vote.option_keys, revision=revision)


def tally_of(vote_id: int, meeting_id: int, *, secret: bool, status: str, eligible: int,
             option_keys: list[str], revision: int | None = None) -> dict:
    """The tally from plain values (no ORM object to reload after a commit): two queries for an
    open vote, one for a secret one. ``revision`` orders tallies (see service._commit_cast)."""
    counts = service.counts_of(vote_id, option_keys)
    body = {"vote_id": vote_id, "meeting_id": meeting_id, "status": status, "cast": sum(counts.values()),
            "eligible": eligible, "counts": None, "ballots": None, "revision": revision}
    if not secret or status == VoteStatus.CLOSED:
        body["counts"] = counts
    if not secret:
        body["ballots"] = [{"user": {"id": user_id, "full_name": name}, "choice": choice}
                           for user_id, name, choice in service.named_ballots(vote_id)]
    return body


def vote(vote: Vote, viewer: User | None = None) -> dict:
    body = {
        "id": vote.id, "meeting_id": vote.meeting_id, "agenda_item_id": vote.agenda_item_id,
        "question": vote.question, "secret": vote.secret, "standard": vote.standard,
        "options": [{"key": o["key"], "label": option_label(vote, o)} for o in vote.options],
        "status": vote.status, "opened_at": iso(vote.opened_at), "closed_at": iso(vote.closed_at),
        "eligible": vote.eligible_count, "present_at_opening": vote.present_count,
        "outcome": vote.outcome,
        "outcome_label": str(OUTCOME_LABELS[Outcome(vote.outcome)]) if vote.outcome else None,
        "result": vote.result, "tally": tally(vote),
    }
    if viewer is not None:
        body["me"] = my_vote(viewer, vote)
    return body


def my_vote(viewer: User, vote: Vote) -> dict:
    """Whether the viewer may vote and has voted (their choice only in an open vote: a secret
    choice is known to their own device, which keeps the receipt)."""
    ballot = service.my_ballot(viewer, vote)
    participant = access.get_meeting(viewer, vote.meeting_id).participant_for(viewer.id)
    return {"can_vote": bool(participant and participant.votes), "voted": ballot is not None,
            "choice": ballot.choice if ballot is not None else None}


def room_state(viewer: User, meeting: Meeting) -> dict:
    """Everything a tablet needs when it joins (or re-joins after losing the network)."""
    state = service.progress_of(meeting)
    role = access.meeting_role(viewer, meeting)
    votes = service.meeting_votes(viewer, meeting.id)
    entries = documents_for_meeting(viewer, meeting)
    return {
        "meeting": {"id": meeting.id, "title": meeting.title, "starts_at": iso(meeting.starts_at),
                    "ends_at": iso(meeting.ends_at), "place": meeting.place,
                    "chair": person(meeting.chair) if meeting.chair else None},
        "state": meeting_state(meeting),
        "me": {"id": viewer.id, "full_name": viewer.full_name, "role": role,
               "can_control": access.is_staff(viewer) or access.is_chair(viewer, meeting),
               "can_vote": bool((p := meeting.participant_for(viewer.id)) and p.votes)},
        "agenda": [item_json(item) for item in meeting.agenda_items],
        "current_item_id": state.current_item_id,
        "attendance": attendance(meeting),
        "speakers": speaker_queue(meeting),
        "open_vote": next((vote(v, viewer) for v in votes if v.status == VoteStatus.OPEN), None),
        "votes": [vote(v) for v in votes if v.status == VoteStatus.CLOSED],
        "documents": [{"id": e.document.id, "title": e.document.title,
                       "agenda_item_id": e.document.agenda_item_id, "doc_type": e.document.doc_type,
                       "secrecy": e.document.secrecy, "status": e.document.status, "unread": e.unread,
                       "type_label": e.type_label, "stamp": e.stamp}
                      for e in entries if e.document.status == "published"],
        "server_time": iso(utcnow()),
    }
