"""Meeting endpoints: meetings, participants and attendance, agenda items, members' positions.

Thin wrappers around :mod:`cabinet.meetings.service`: parse, call the service (which checks who
may do what and answers 404 for meetings the user may not see), serialise.
"""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request
from flask_babel import gettext as _

from cabinet.api.framework import operation
from cabinet.api.meeting_schemas import (
    AgendaItemCreate,
    AgendaItemList,
    AgendaItemOut,
    AgendaItemUpdate,
    AttendanceIn,
    CancelIn,
    ConsentIn,
    DeputyDecisionIn,
    MeetingCreate,
    MeetingList,
    MeetingOut,
    MeetingUpdate,
    ParticipantList,
    ParticipantOut,
    PositionIn,
    PositionOut,
    PositionsOut,
    ReorderIn,
    to_utc,
)
from cabinet.core.errors import ValidationError
from cabinet.meetings import access, service
from cabinet.meetings.json import iso, item_json, person, person_ref  # noqa: F401 (shared shapes)
from cabinet.meetings.models import Meeting, Participant, Position
from cabinet.users.models import User

TAGS = ["meetings"]
AGENDA_TAGS = ["agenda"]
BODY_ERRORS = (400, 413, 422)

# --- serialisers ------------------------------------------------------------------------------


def meeting_json(meeting: Meeting, viewer: User) -> dict:
    return {
        "id": meeting.id,
        "kind": meeting.kind,
        "title": meeting.title,
        "description": meeting.description,
        "starts_at": iso(meeting.starts_at),
        "ends_at": iso(meeting.ends_at),
        "place": meeting.place,
        "online_url": meeting.online_url,
        "status": meeting.status,
        "cancel_reason": meeting.cancel_reason,
        "agenda_approved_at": iso(meeting.agenda_approved_at),
        "chair": person_ref(meeting.chair),
        "my_role": access.meeting_role(viewer, meeting),
    }


def participant_json(participant: Participant, *, full: bool) -> dict:
    """``full``: with the absence reason and the deputy (staff, the chair, the person themself)."""
    return {
        "id": participant.id,
        "user": person(participant.user),
        "role": participant.role,
        "attendance": participant.attendance,
        "responded_at": iso(participant.responded_at),
        "absence_reason": participant.absence_reason if full else None,
        "deputy": person_ref(participant.deputy) if full else None,
        "deputy_status": participant.deputy_status if full else None,
        "deputy_decided_at": iso(participant.deputy_decided_at) if full else None,
    }


def chair_or_staff(user: User, meeting: Meeting) -> bool:
    return access.is_staff(user) or access.is_chair(user, meeting)


def position_json(position: Position) -> dict:
    return {"item_id": position.item_id, "user": person_ref(position.user),
            "stance": position.stance, "comment": position.comment,
            "updated_at": iso(position.updated_at)}


def _query_time(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    message = None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        message = _("Give an ISO 8601 date and time with its offset, e.g. 2025-03-03T01:00:00Z.")
    else:
        if value.tzinfo is None:
            message = _("Give the time with its offset, e.g. +07:00 or Z.")
        else:
            try:
                return to_utc(value)
            except ValueError as exc:
                message = str(exc)
    raise ValidationError(_("Some fields are missing or not valid."),
                          details={"fields": [{"field": name, "message": message}]})


# --- meetings ---------------------------------------------------------------------------------


@operation("GET", "/meetings", summary="The meetings you may see", tags=TAGS, response=MeetingList,
           errors=(422,),
           query={"from": {"type": "string", "format": "date-time",
                           "description": "Only meetings that end at or after this time "
                                          "(ISO 8601 with offset; send + as %2B)."},
                  "to": {"type": "string", "format": "date-time",
                         "description": "Only meetings that start before this time."}},
           description="Participants see their meetings (approved deputies included); the "
                       "secretariat sees all. Sorted by start time; cancelled meetings included.")
def list_meetings(user):
    start, end = _query_time("from"), _query_time("to")
    meetings = service.visible_meetings(user, start=start, end=end)
    return jsonify({"meetings": [meeting_json(m, user) for m in meetings]})


@operation("POST", "/meetings", summary="Schedule a meeting (secretariat)", tags=TAGS,
           body=MeetingCreate, response=MeetingOut, status=201, errors=BODY_ERRORS)
def create_meeting(user, body: MeetingCreate):
    meeting = service.create_meeting(user, service.MeetingData(
        title=body.title, kind=body.kind, description=body.description, starts_at=body.starts_at,
        ends_at=body.ends_at, place=body.place, online_url=body.online_url,
        participants={p.user_id: p.role for p in body.participants}))
    return jsonify(meeting_json(meeting, user)), 201


@operation("GET", "/meetings/<int:meeting_id>", summary="One meeting", tags=TAGS,
           response=MeetingOut, errors=(404,))
def get_meeting(user, meeting_id: int):
    return jsonify(meeting_json(access.get_meeting(user, meeting_id), user))


@operation("PATCH", "/meetings/<int:meeting_id>", summary="Edit or reschedule a meeting (secretariat)",
           tags=TAGS, body=MeetingUpdate, response=MeetingOut, errors=(*BODY_ERRORS, 404),
           description="Fields left out keep their values; `participants`, when sent, replaces "
                       "the list (those who stay keep their answers). A cancelled meeting can "
                       "no longer be changed (422).")
def update_meeting(user, meeting_id: int, body: MeetingUpdate):
    meeting = access.get_meeting(user, meeting_id)
    values = {"title": meeting.title, "kind": meeting.kind, "description": meeting.description,
              "starts_at": meeting.starts_at, "ends_at": meeting.ends_at, "place": meeting.place,
              "online_url": meeting.online_url,
              "participants": {p.user_id: p.role for p in meeting.participants}}
    changes = body.model_dump(exclude_unset=True, exclude={"participants"})
    if "participants" in body.model_fields_set:
        changes["participants"] = {p.user_id: p.role for p in body.participants}
    updated = service.update_meeting(user, meeting.id, service.MeetingData(**(values | changes)))
    return jsonify(meeting_json(updated, user))


@operation("POST", "/meetings/<int:meeting_id>/cancel", summary="Cancel a meeting (secretariat)",
           tags=TAGS, body=CancelIn, response=MeetingOut, errors=(*BODY_ERRORS, 404))
def cancel_meeting(user, meeting_id: int, body: CancelIn):
    return jsonify(meeting_json(service.cancel_meeting(user, meeting_id, body.reason), user))


# --- participants and attendance --------------------------------------------------------------


@operation("GET", "/meetings/<int:meeting_id>/participants", summary="Participants and their answers",
           tags=TAGS, response=ParticipantList, errors=(404,),
           description="Absence reasons and deputies are shown to the secretariat and the chair; "
                       "others see them only on their own entry.")
def list_participants(user, meeting_id: int):
    meeting = access.get_meeting(user, meeting_id)
    privileged = chair_or_staff(user, meeting)
    return jsonify({"participants": [
        participant_json(p, full=privileged or p.user_id == user.id) for p in meeting.participants]})


@operation("POST", "/meetings/<int:meeting_id>/attendance", summary="Answer the invitation",
           tags=TAGS, body=AttendanceIn, response=ParticipantOut, errors=(*BODY_ERRORS, 404),
           description="Your own answer: attending, or absent with a reason and maybe a deputy "
                       "(the chair approves the deputy).")
def respond(user, meeting_id: int, body: AttendanceIn):
    participant = service.respond(user, meeting_id, attending=body.attending, reason=body.reason,
                                  deputy_id=body.deputy_id)
    return jsonify(participant_json(participant, full=True))


@operation("POST", "/meetings/<int:meeting_id>/participants/<int:participant_id>/deputy",
           summary="Approve or reject a deputy (the chair; the secretariat records it)", tags=TAGS,
           body=DeputyDecisionIn, response=ParticipantOut, errors=(*BODY_ERRORS, 404))
def decide_deputy(user, meeting_id: int, participant_id: int, body: DeputyDecisionIn):
    participant = service.decide_deputy(user, meeting_id, participant_id, body.approve)
    return jsonify(participant_json(participant, full=True))


# --- agenda -----------------------------------------------------------------------------------


@operation("GET", "/meetings/<int:meeting_id>/agenda-items", summary="The agenda, in order",
           tags=AGENDA_TAGS, response=AgendaItemList, errors=(404,))
def list_agenda_items(user, meeting_id: int):
    meeting = access.get_meeting(user, meeting_id)
    return jsonify({"items": [item_json(item) for item in meeting.agenda_items]})


@operation("POST", "/meetings/<int:meeting_id>/agenda-items", summary="Add an agenda item (secretariat)",
           tags=AGENDA_TAGS, body=AgendaItemCreate, response=AgendaItemOut, status=201,
           errors=(*BODY_ERRORS, 404),
           description="Added at the end. After the chair approved the agenda, the change is "
                       "tracked and shown to the participants.")
def add_agenda_item(user, meeting_id: int, body: AgendaItemCreate):
    item = service.add_item(user, meeting_id, service.AgendaItemData(**body.model_dump()))
    return jsonify(item_json(item)), 201


@operation("GET", "/agenda-items/<int:item_id>", summary="One agenda item", tags=AGENDA_TAGS,
           response=AgendaItemOut, errors=(404,))
def get_agenda_item(user, item_id: int):
    return jsonify(item_json(service.get_item(user, item_id)))


@operation("PATCH", "/agenda-items/<int:item_id>", summary="Edit an agenda item (secretariat)",
           tags=AGENDA_TAGS, body=AgendaItemUpdate, response=AgendaItemOut,
           errors=(*BODY_ERRORS, 404), description="Fields left out keep their values.")
def update_agenda_item(user, item_id: int, body: AgendaItemUpdate):
    item = service.update_item(user, item_id,
                               service.AgendaItemData(**body.model_dump(exclude_unset=True)))
    return jsonify(item_json(item))


@operation("DELETE", "/agenda-items/<int:item_id>", summary="Remove an agenda item (secretariat)",
           tags=AGENDA_TAGS, status=204, errors=(404, 422))
def remove_agenda_item(user, item_id: int):
    service.remove_item(user, item_id)
    return "", 204


@operation("POST", "/meetings/<int:meeting_id>/agenda-items/reorder",
           summary="Put the agenda in a new order (secretariat)", tags=AGENDA_TAGS, body=ReorderIn,
           response=AgendaItemList, errors=(*BODY_ERRORS, 404))
def reorder_agenda(user, meeting_id: int, body: ReorderIn):
    items = service.reorder_agenda(user, meeting_id, body.order)
    return jsonify({"items": [item_json(item) for item in items]})


@operation("POST", "/meetings/<int:meeting_id>/agenda/approve", summary="Approve the agenda (the chair)",
           tags=AGENDA_TAGS, response=MeetingOut, errors=(404, 409, 422),
           description="Later changes to the agenda are tracked and shown to the participants.")
def approve_agenda(user, meeting_id: int):
    return jsonify(meeting_json(service.approve_agenda(user, meeting_id), user))


# --- positions (before the meeting) -----------------------------------------------------------


@operation("GET", "/agenda-items/<int:item_id>/positions", summary="Positions on an agenda item",
           tags=AGENDA_TAGS, response=PositionsOut, errors=(404,),
           description="`mine` is your own position; `board` (counts, every position, the members "
                       "who have not answered) is for the chair and the secretariat, else null.")
def get_positions(user, item_id: int):
    item = service.get_item(user, item_id)
    mine = service.my_positions(user, item.meeting).get(item.id)
    board = None
    if chair_or_staff(user, item.meeting):
        row = next(r for r in service.positions_board(user, item.meeting_id) if r.item.id == item.id)
        board = {"counts": row.counts, "positions": [position_json(p) for p in row.positions],
                 "missing": [person_ref(u) for u in row.missing], "contested": row.contested}
    return jsonify({"item_id": item.id, "mine": position_json(mine) if mine else None,
                    "board": board})


@operation("PUT", "/agenda-items/<int:item_id>/positions", summary="State your position on an item",
           tags=AGENDA_TAGS, body=PositionIn, response=PositionOut, errors=(*BODY_ERRORS, 404),
           description="Voting members only (not guests, secretaries or deputies), before the "
                       "meeting starts. Sending again replaces your position.")
def put_position(user, item_id: int, body: PositionIn):
    position = service.record_position(user, item_id, body.stance, body.comment)
    return jsonify(position_json(position))


@operation("POST", "/agenda-items/<int:item_id>/consent",
           summary="Mark an item as passing without debate (chair or secretariat)", tags=AGENDA_TAGS,
           body=ConsentIn, response=AgendaItemOut, errors=(*BODY_ERRORS, 404),
           description="Refused (422) while a member asks to debate the item.")
def set_consent(user, item_id: int, body: ConsentIn):
    item = service.set_passes_without_debate(user, item_id, body.passes_without_debate)
    return jsonify(item_json(item))
