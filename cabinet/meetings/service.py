"""The rules of meetings: scheduling, participants, attendance, deputies, agenda, positions.

Every function takes the acting user first, checks what they may do (cabinet.meetings.access),
writes the audit trail and commits. Times are aware datetimes in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select

from cabinet.audit import service as audit
from cabinet.core import signals
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.meetings import access
from cabinet.meetings.models import (
    AgendaChange,
    AgendaItem,
    AgendaStatus,
    Attendance,
    DeputyStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Participant,
    ParticipantRole,
    Position,
    Stance,
)
from cabinet.users.models import Role, User

MAX_MEETING_HOURS = 24


# --- input ----------------------------------------------------------------------------------


@dataclass
class MeetingData:
    """A meeting as the secretariat enters it. Participants: user id → per-meeting role."""

    title: str
    starts_at: datetime
    ends_at: datetime
    kind: str = MeetingKind.REGULAR.value
    description: str = ""
    place: str = ""
    online_url: str = ""
    participants: dict[int, str] = field(default_factory=dict)


@dataclass
class AgendaItemData:
    title: str | None = None
    presenter_organisation: str | None = None
    presenter_name: str | None = None
    minutes: int | None = None
    status: str | None = None
    conclusion: str | None = None


_fields_error = ValidationError.of_fields


def _refuse_if_cancelled(meeting: Meeting) -> None:
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled and can no longer be changed."))


def _clean_meeting(data: MeetingData) -> dict:
    errors: dict[str, str] = {}
    title = " ".join((data.title or "").split())
    if not title:
        errors["title"] = _("The title is required.")
    elif len(title) > 300:
        errors["title"] = _("At most %(max)d characters.", max=300)
    if data.kind not in MeetingKind.__members__.values():
        errors["kind"] = _("Unknown kind of meeting.")
    if data.starts_at is None or data.ends_at is None:
        errors["starts_at"] = _("Give the start and end time.")
    elif data.starts_at.tzinfo is None or data.ends_at.tzinfo is None:
        raise ValueError("meeting times must be aware datetimes")
    elif data.ends_at <= data.starts_at:
        errors["ends_at"] = _("The meeting must end after it starts.")
    elif data.ends_at - data.starts_at > timedelta(hours=MAX_MEETING_HOURS):
        errors["ends_at"] = _("A meeting lasts at most %(h)d hours.", h=MAX_MEETING_HOURS)
    online_url = (data.online_url or "").strip()
    if online_url and not online_url.startswith(("https://", "http://")):
        errors["online_url"] = _("The online link must start with https://.")
    if data.kind == MeetingKind.ONLINE and not online_url:
        errors["online_url"] = _("An online meeting needs its link.")
    if not data.place.strip() and not online_url:
        errors["place"] = _("Give the place or the online link.")
    errors.update(_check_participants(data.participants))
    if errors:
        raise _fields_error(errors)
    return {"title": title, "kind": data.kind, "description": (data.description or "").strip(),
            "starts_at": data.starts_at, "ends_at": data.ends_at,
            "place": " ".join(data.place.split())[:300], "online_url": online_url[:500]}


def _check_participants(participants: dict[int, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    roles = list(participants.values())
    if any(role not in ParticipantRole.__members__.values() for role in roles):
        errors["participants"] = _("Unknown participant role.")
        return errors
    if roles.count(ParticipantRole.CHAIR) != 1:
        errors["chair"] = _("Choose exactly one chair.")
    ids = [uid for uid in participants if 0 < uid <= MAX_ID]
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for user_id, role in participants.items():
        user = users.get(user_id)
        if user is None or not user.active:
            errors["participants"] = _("A participant does not exist or is disabled.")
        elif role in (ParticipantRole.CHAIR, ParticipantRole.MEMBER) and user.role != Role.MEMBER:
            errors["participants"] = _("%(name)s is not a Government member and cannot be the chair "
                                       "or a voting member; invite them as a guest.", name=user.full_name)
        elif role == ParticipantRole.SECRETARY and not user.is_secretariat:
            errors["participants"] = _("%(name)s is not on the secretariat staff.", name=user.full_name)
    return errors


# --- meetings ---------------------------------------------------------------------------------


def create_meeting(actor: User, data: MeetingData) -> Meeting:
    """Schedule a meeting with its participants (secretariat)."""
    access.require_staff(actor)
    values = _clean_meeting(data)
    meeting = Meeting(**values, created_by_id=actor.id)
    meeting.participants = [Participant(user_id=uid, role=role) for uid, role in data.participants.items()]
    db.session.add(meeting)
    db.session.flush()
    audit.record("meeting.created", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"title": meeting.title, "starts_at": meeting.starts_at.isoformat(),
                          "participants": len(meeting.participants)})
    db.session.commit()
    # Told after the commit (cabinet.notifications.handlers writes the notifications).
    signals.meeting_invited.send(actor, meeting_id=meeting.id, user_ids=list(data.participants))
    return meeting


_CALENDAR_FIELDS = ("title", "starts_at", "ends_at", "place", "online_url", "description")


def update_meeting(actor: User, meeting_id: int, data: MeetingData) -> Meeting:
    """Edit or reschedule; participants are replaced, keeping the answers of those who stay."""
    access.require_staff(actor)
    meeting = access.get_meeting(actor, meeting_id)
    _refuse_if_cancelled(meeting)
    had_access = _with_access(meeting)
    values = _clean_meeting(data)
    changes = {k: [_plain(getattr(meeting, k)), _plain(v)] for k, v in values.items()
               if getattr(meeting, k) != v}
    if any(k in changes for k in _CALENDAR_FIELDS):
        meeting.ical_sequence += 1
    for key, value in values.items():
        setattr(meeting, key, value)
    participant_changes = _replace_participants(meeting, data.participants)
    if participant_changes:
        changes["participants"] = participant_changes
        meeting.ical_sequence += 1
    lost = _lost_access(meeting, had_access)
    if changes:
        details = {"changes": changes, **({"access_withdrawn": lost} if lost else {})}
        audit.record("meeting.updated", actor=actor, object_type="meeting", object_id=meeting.id,
                     details=details)
    db.session.commit()
    _tell_removed(actor, meeting.id, lost)
    moved = {k: v for k, v in changes.items() if k in _NOTIFIED_FIELDS}
    if moved:
        signals.meeting_changed.send(actor, meeting_id=meeting.id, changes=moved,
                                     newly_invited=participant_changes.get("added", []))
    if participant_changes.get("added"):
        signals.meeting_invited.send(actor, meeting_id=meeting.id, user_ids=participant_changes["added"])
    return meeting


# What participants are told about when it changes (the notification says old → new).
_NOTIFIED_FIELDS = ("starts_at", "ends_at", "place", "online_url")


def _with_access(meeting: Meeting) -> set[int]:
    """Who may open the meeting as a participant: its participants and their approved deputies."""
    return {p.user_id for p in meeting.participants} | {
        p.deputy_id for p in meeting.participants
        if p.deputy_id is not None and p.deputy_status == DeputyStatus.APPROVED}


def _lost_access(meeting: Meeting, had_access: set[int]) -> list[int]:
    """Who had access before the change (``had_access``) and no longer has it. The secretariat
    still sees every meeting, so taking one of them off the list closes nothing."""
    gone = had_access - _with_access(meeting)
    return sorted(uid for uid in gone
                  if (user := db.session.get(User, uid)) is None or not access.can_see_meeting(user, meeting))


def _tell_removed(actor: User, meeting_id: int, user_ids: list[int]) -> None:
    """After the commit: the people who lost access leave the meeting's room (their open tablets
    stop receiving its votes, agenda and documents) and are told so."""
    if user_ids:
        signals.participant_removed.send(actor, meeting_id=meeting_id, user_ids=user_ids)


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _replace_participants(meeting: Meeting, wanted: dict[int, str]) -> dict:
    current = {p.user_id: p for p in meeting.participants}
    added = [uid for uid in wanted if uid not in current]
    removed = [uid for uid in current if uid not in wanted]
    changed = [uid for uid in wanted if uid in current and current[uid].role != wanted[uid]]
    for uid in removed:
        meeting.participants.remove(current[uid])
    for uid in changed:
        current[uid].role = wanted[uid]
    for uid in added:
        meeting.participants.append(Participant(user_id=uid, role=wanted[uid]))
    if not (added or removed or changed):
        return {}
    return {"added": added, "removed": removed, "role_changed": changed}


def cancel_meeting(actor: User, meeting_id: int, reason: str) -> Meeting:
    access.require_staff(actor)
    meeting = access.get_meeting(actor, meeting_id)
    reason = (reason or "").strip()
    if not reason:
        raise _fields_error({"reason": _("Give the reason for the cancellation.")})
    if meeting.is_cancelled:
        return meeting
    meeting.status = MeetingStatus.CANCELLED.value
    meeting.cancel_reason = reason[:2000]
    meeting.cancelled_at = utcnow()
    meeting.ical_sequence += 1
    audit.record("meeting.cancelled", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"reason": meeting.cancel_reason})
    db.session.commit()
    signals.meeting_cancelled.send(actor, meeting_id=meeting.id)
    return meeting


def visible_meetings(user: User, *, start: datetime | None = None, end: datetime | None = None,
                     include_cancelled: bool = True) -> list[Meeting]:
    """The meetings the user may see, by start time (staff: all)."""
    stmt = select(Meeting).order_by(Meeting.starts_at)
    if not access.is_staff(user):
        mine = select(Participant.meeting_id).where(
            or_(Participant.user_id == user.id,
                and_(Participant.deputy_id == user.id,
                     Participant.deputy_status == DeputyStatus.APPROVED.value)))
        stmt = stmt.where(Meeting.id.in_(mine))
    if start is not None:
        stmt = stmt.where(Meeting.ends_at >= start)
    if end is not None:
        stmt = stmt.where(Meeting.starts_at < end)
    if not include_cancelled:
        stmt = stmt.where(Meeting.status != MeetingStatus.CANCELLED.value)
    return list(db.session.scalars(stmt))


def double_bookings(meeting: Meeting) -> dict[int, list[Meeting]]:
    """Participants who are also in another (not cancelled) meeting at an overlapping time."""
    user_ids = [p.user_id for p in meeting.participants]
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(Participant.user_id, Meeting)
        .join(Meeting, Participant.meeting_id == Meeting.id)
        .where(Participant.user_id.in_(user_ids), Meeting.id != meeting.id,
               Meeting.status != MeetingStatus.CANCELLED.value,
               Meeting.starts_at < meeting.ends_at, Meeting.ends_at > meeting.starts_at)
    ).all()
    clashes: dict[int, list[Meeting]] = {}
    for user_id, other in rows:
        clashes.setdefault(user_id, []).append(other)
    return clashes


def quorum_needed(meeting: Meeting) -> int:
    """D6: at least two thirds of the voting members."""
    from math import ceil

    from cabinet.rules import rules

    voters = sum(1 for p in meeting.participants if p.votes)
    return ceil(voters * rules().quorum)


# --- attendance and deputies (D3) --------------------------------------------------------------


def respond(actor: User, meeting_id: int, *, attending: bool, reason: str = "",
            deputy_id: int | None = None) -> Participant:
    """A participant confirms attendance, or reports absence with a reason and maybe a deputy."""
    meeting = access.get_meeting(actor, meeting_id)
    participant = meeting.participant_for(actor.id)
    if participant is None:
        raise PermissionDenied(_("Only the meeting's participants answer the invitation."))
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."))
    if meeting.ends_at < utcnow():
        raise ValidationError(_("This meeting is over."))
    had_access = _with_access(meeting)
    reason = (reason or "").strip()
    if attending:
        participant.attendance = Attendance.CONFIRMED.value
        participant.absence_reason = ""
        participant.deputy_id = None
        participant.deputy_status = None
    else:
        if not reason:
            raise _fields_error({"reason": _("Give the reason for your absence.")})
        participant.attendance = Attendance.ABSENT.value
        participant.absence_reason = reason[:2000]
        if deputy_id and not participant.votes:
            raise _fields_error({"deputy_id": _("Only members send a deputy; guests and secretaries "
                                                "simply report their absence.")})
        if deputy_id:
            deputy = db.session.get(User, deputy_id) if 0 < deputy_id <= MAX_ID else None
            if deputy is None or not deputy.active or deputy.id == actor.id:
                raise _fields_error({"deputy_id": _("Choose an existing account as your deputy.")})
            if meeting.participant_for(deputy.id) is not None:
                raise _fields_error({"deputy_id": _("%(name)s already takes part in this meeting.",
                                                    name=deputy.full_name)})
            if participant.deputy_id != deputy.id:
                participant.deputy_id = deputy.id
                participant.deputy_status = DeputyStatus.PENDING.value
                participant.deputy_decided_at = None
        else:
            participant.deputy_id = None
            participant.deputy_status = None
    participant.responded_at = utcnow()
    # A member who withdraws an approved deputy (attending after all, or sending someone else)
    # takes that deputy off the meeting.
    lost = _lost_access(meeting, had_access)
    audit.record("meeting.attendance", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"attendance": participant.attendance, "reason": participant.absence_reason,
                          "deputy_id": participant.deputy_id, **({"access_withdrawn": lost} if lost else {})})
    db.session.commit()
    _tell_removed(actor, meeting.id, lost)
    return participant


def mark_attendance(actor: User, meeting_id: int, user_id: int, attendance: str) -> Participant:
    """The secretariat records an answer given by telephone or on paper."""
    access.require_staff(actor)
    meeting = access.get_meeting(actor, meeting_id)
    participant = meeting.participant_for(user_id)
    if participant is None:
        raise NotFound(_("This person is not a participant."))
    if attendance not in Attendance.__members__.values():
        raise _fields_error({"attendance": _("Unknown answer.")})
    participant.attendance = attendance
    participant.responded_at = utcnow()
    audit.record("meeting.attendance_recorded", actor=actor, object_type="meeting",
                 object_id=meeting.id, details={"user_id": user_id, "attendance": attendance})
    db.session.commit()
    return participant


def decide_deputy(actor: User, meeting_id: int, participant_id: int, approve: bool) -> Participant:
    """The chair approves or rejects a deputy (D3); the secretariat may record the chair's decision."""
    meeting = access.get_meeting(actor, meeting_id)
    access.require_chair_or_staff(actor, meeting)
    _refuse_if_cancelled(meeting)
    participant = next((p for p in meeting.participants if p.id == participant_id), None)
    if participant is None or participant.deputy_id is None:
        raise NotFound(_("No deputy is waiting for a decision here."))
    had_access = _with_access(meeting)
    participant.deputy_status = (DeputyStatus.APPROVED if approve else DeputyStatus.REJECTED).value
    participant.deputy_decided_at = utcnow()
    lost = _lost_access(meeting, had_access)  # an approved deputy rejected after all
    audit.record("meeting.deputy_approved" if approve else "meeting.deputy_rejected", actor=actor,
                 object_type="meeting", object_id=meeting.id,
                 details={"member_id": participant.user_id, "deputy_id": participant.deputy_id,
                          **({"access_withdrawn": lost} if lost else {})})
    db.session.commit()
    _tell_removed(actor, meeting.id, lost)
    return participant


# --- agenda (D8) ------------------------------------------------------------------------------


def _clean_item(data: AgendaItemData, *, creating: bool) -> dict:
    errors: dict[str, str] = {}
    values: dict = {}
    if creating or data.title is not None:
        title = " ".join((data.title or "").split())
        if not title:
            errors["title"] = _("The title is required.")
        elif len(title) > 500:
            errors["title"] = _("At most %(max)d characters.", max=500)
        values["title"] = title
    for key in ("presenter_organisation", "presenter_name"):
        value = getattr(data, key)
        if value is not None:
            values[key] = " ".join(value.split())[:200]
    if creating or data.minutes is not None:
        minutes = data.minutes if data.minutes is not None else 15
        if not isinstance(minutes, int) or not 0 <= minutes <= 600:
            errors["minutes"] = _("Between 0 and 600 minutes.")
        values["minutes"] = minutes
    if data.status is not None:
        if data.status not in AgendaStatus.__members__.values():
            errors["status"] = _("Unknown status.")
        values["status"] = data.status
    if data.conclusion is not None:
        values["conclusion"] = data.conclusion.strip()[:20000]
    if errors:
        raise _fields_error(errors)
    return values


def _editable_agenda(actor: User, meeting_id: int) -> Meeting:
    access.require_staff(actor)
    meeting = access.get_meeting(actor, meeting_id)
    _refuse_if_cancelled(meeting)
    return meeting


def _track(meeting: Meeting, actor: User, action: str, item_id: int | None, summary: dict) -> None:
    """After the chair approved the agenda, every change is kept and shown (D8)."""
    if meeting.agenda_approved_at is not None:
        db.session.add(AgendaChange(meeting_id=meeting.id, item_id=item_id, actor_id=actor.id,
                                    action=action, summary=summary))


def get_item(actor: User, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None or not access.can_see_meeting(actor, item.meeting):
        raise NotFound(_("No such agenda item."))
    return item


def add_item(actor: User, meeting_id: int, data: AgendaItemData) -> AgendaItem:
    meeting = _editable_agenda(actor, meeting_id)
    values = _clean_item(data, creating=True)
    position = db.session.scalar(
        select(func.coalesce(func.max(AgendaItem.position), 0)).where(AgendaItem.meeting_id == meeting.id))
    item = AgendaItem(meeting_id=meeting.id, position=position + 1, **values)
    db.session.add(item)
    db.session.flush()
    _track(meeting, actor, "added", item.id, {"title": item.title})
    audit.record("agenda.item_added", actor=actor, object_type="agenda_item", object_id=item.id,
                 details={"meeting_id": meeting.id, "title": item.title})
    db.session.commit()
    return item


def update_item(actor: User, item_id: int, data: AgendaItemData) -> AgendaItem:
    item = get_item(actor, item_id)
    meeting = _editable_agenda(actor, item.meeting_id)
    values = _clean_item(data, creating=False)
    changes = {k: [getattr(item, k), v] for k, v in values.items() if getattr(item, k) != v}
    if not changes:
        return item
    for key, (_old, new) in changes.items():
        setattr(item, key, new)
    _track(meeting, actor, "edited", item.id, {"title": item.title, "changes": changes})
    audit.record("agenda.item_updated", actor=actor, object_type="agenda_item", object_id=item.id,
                 details={"meeting_id": meeting.id, "changes": changes})
    db.session.commit()
    return item


def remove_item(actor: User, item_id: int) -> None:
    item = get_item(actor, item_id)
    meeting = _editable_agenda(actor, item.meeting_id)
    _track(meeting, actor, "removed", item.id, {"title": item.title})
    audit.record("agenda.item_removed", actor=actor, object_type="agenda_item", object_id=item.id,
                 details={"meeting_id": meeting.id, "title": item.title})
    meeting.agenda_items.remove(item)
    db.session.flush()
    for number, remaining in enumerate(meeting.agenda_items, start=1):
        remaining.position = number
    db.session.commit()


def reorder_agenda(actor: User, meeting_id: int, order: list[int]) -> list[AgendaItem]:
    """Put the items in the given order; the list must name every item of the meeting once."""
    meeting = _editable_agenda(actor, meeting_id)
    current = [item.id for item in meeting.agenda_items]
    if sorted(order) != sorted(current) or len(set(order)) != len(order):
        raise _fields_error({"order": _("The new order must list every agenda item exactly once.")})
    if order == current:
        return list(meeting.agenda_items)
    by_id = {item.id: item for item in meeting.agenda_items}
    for number, item_id in enumerate(order, start=1):
        by_id[item_id].position = number
    _track(meeting, actor, "reordered", None, {"before": current, "after": order})
    audit.record("agenda.reordered", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"before": current, "after": order})
    db.session.commit()
    db.session.refresh(meeting)
    return list(meeting.agenda_items)


def move_item(actor: User, item_id: int, *, up: bool) -> AgendaItem:
    """Move an item one place up or down (the no-script fallback of drag and drop)."""
    item = get_item(actor, item_id)
    order = [i.id for i in item.meeting.agenda_items]
    index = order.index(item.id)
    target = index - 1 if up else index + 1
    if 0 <= target < len(order):
        order[index], order[target] = order[target], order[index]
        reorder_agenda(actor, item.meeting_id, order)
    return item


def approve_agenda(actor: User, meeting_id: int) -> Meeting:
    """D8: the chair approves the agenda; later changes are tracked."""
    meeting = access.get_meeting(actor, meeting_id)
    if not access.is_chair(actor, meeting):
        raise PermissionDenied(_("Only the chair approves the agenda."))
    _refuse_if_cancelled(meeting)
    if not meeting.agenda_items:
        raise ValidationError(_("The agenda is empty."))
    if meeting.agenda_approved_at is not None:
        raise Conflict(_("The agenda is already approved."))
    meeting.agenda_approved_at = utcnow()
    meeting.agenda_approved_by_id = actor.id
    audit.record("agenda.approved", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"items": [item.id for item in meeting.agenda_items]})
    db.session.commit()
    return meeting


def agenda_changes(actor: User, meeting_id: int) -> list[AgendaChange]:
    meeting = access.get_meeting(actor, meeting_id)
    return list(db.session.scalars(select(AgendaChange).where(AgendaChange.meeting_id == meeting.id)
                                   .order_by(AgendaChange.at)))


# --- pre-meeting positions (D9) ----------------------------------------------------------------


def record_position(actor: User, item_id: int, stance: str, comment: str = "") -> Position:
    """A voting member states a position on an item before the meeting starts."""
    item = get_item(actor, item_id)
    meeting = item.meeting
    participant = meeting.participant_for(actor.id)
    if participant is None or not participant.votes:
        raise PermissionDenied(_("Only the meeting's members record positions."))
    if meeting.is_cancelled or meeting.starts_at <= utcnow():
        raise ValidationError(_("Positions are recorded before the meeting starts."))
    if stance not in Stance.__members__.values():
        raise _fields_error({"stance": _("Choose agree, has comments or asks for debate.")})
    comment = (comment or "").strip()[:5000]
    if stance == Stance.COMMENT and not comment:
        raise _fields_error({"comment": _("Write your comments.")})
    position = db.session.scalar(select(Position).where(Position.item_id == item.id,
                                                        Position.user_id == actor.id))
    if position is None:
        position = Position(item_id=item.id, user_id=actor.id, stance=stance, comment=comment)
        db.session.add(position)
    else:
        position.stance, position.comment = stance, comment
    audit.record("agenda.position", actor=actor, object_type="agenda_item", object_id=item.id,
                 details={"stance": stance})
    db.session.commit()
    return position


def record_positions(actor: User, meeting_id: int,
                     answers: dict[int, tuple[str, str]]) -> tuple[int, list[str]]:
    """Record several positions at once (item id → (stance, comment)), item by item.

    A refused item does not lose the others: returns how many were saved and, for each refused
    one, "<position>. <title>: <reason>". Not being allowed at all still raises.
    """
    meeting = access.get_meeting(actor, meeting_id)
    saved, problems = 0, []
    for item in meeting.agenda_items:
        if item.id not in answers:
            continue
        stance, comment = answers[item.id]
        try:
            record_position(actor, item.id, stance, comment)
            saved += 1
        except (ValidationError, Conflict) as exc:
            db.session.rollback()
            problems.append(f"{item.position}. {item.title}: {exc.message}")
    return saved, problems


def my_positions(actor: User, meeting: Meeting) -> dict[int, Position]:
    item_ids = [item.id for item in meeting.agenda_items]
    if not item_ids:
        return {}
    rows = db.session.scalars(select(Position).where(Position.user_id == actor.id,
                                                     Position.item_id.in_(item_ids)))
    return {position.item_id: position for position in rows}


@dataclass
class BoardRow:
    item: AgendaItem
    positions: list[Position]
    counts: dict[str, int]
    missing: list[User]

    @property
    def contested(self) -> bool:
        return self.counts.get(Stance.DEBATE, 0) > 0


def positions_board(actor: User, meeting_id: int) -> list[BoardRow]:
    """For the chair and the secretariat: each item's positions, and who has not stated one."""
    meeting = access.get_meeting(actor, meeting_id)
    access.require_chair_or_staff(actor, meeting)
    voters = [p.user for p in meeting.participants if p.votes]
    rows = []
    for item in meeting.agenda_items:
        by_user = {position.user_id: position for position in item.positions}
        counts = {stance.value: 0 for stance in Stance}
        for position in by_user.values():
            counts[position.stance] += 1
        rows.append(BoardRow(item, sorted(by_user.values(), key=lambda p: p.user.full_name), counts,
                             [user for user in voters if user.id not in by_user]))
    return rows


def set_passes_without_debate(actor: User, item_id: int, value: bool) -> AgendaItem:
    """D9: mark an item nobody asked to debate as passing in the consent block."""
    item = get_item(actor, item_id)
    access.require_chair_or_staff(actor, item.meeting)
    _refuse_if_cancelled(item.meeting)
    if value and any(p.stance == Stance.DEBATE for p in item.positions):
        raise ValidationError(_("A member asked to debate this item; it cannot pass without debate."))
    if item.passes_without_debate != value:
        item.passes_without_debate = value
        audit.record("agenda.consent_marked" if value else "agenda.consent_unmarked", actor=actor,
                     object_type="agenda_item", object_id=item.id)
        db.session.commit()
    return item
