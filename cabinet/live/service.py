"""The rules of the meeting room: opening and closing, check-in and quorum (D6), the agenda
on the table, the speakers' list, and votes (D7, D10).

Every function takes the acting user first, checks what they may do, writes the audit trail and
commits; then it tells the room (:mod:`cabinet.live.broadcast`), after the commit, so a message
never announces what the database does not hold. A vote is cast here whether it comes from a
tablet's socket or the JSON API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from math import ceil

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from cabinet.audit import service as audit
from cabinet.audit.models import AuditEntry
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.live import broadcast
from cabinet.live.models import (
    AGAINST,
    FOR,
    STANDARD_OPTIONS,
    CheckIn,
    MeetingProgress,
    Outcome,
    SpeakerRequest,
    SpeakerStatus,
    Vote,
    VoteBallot,
    VoteCount,
    VoteStatus,
)
from cabinet.meetings import access
from cabinet.meetings.models import AgendaItem, AgendaStatus, DeputyStatus, Meeting, Participant
from cabinet.rules import rules
from cabinet.users.models import User

MAX_CUSTOM_OPTIONS = 10
MAX_SPEAKING_SECONDS = 3600


_fields_error = ValidationError.of_fields


# --- the meeting's progress ---------------------------------------------------------------------


def progress_of(meeting: Meeting) -> MeetingProgress:
    """The meeting's live state (a fresh, unsaved one before the meeting opens)."""
    found = db.session.get(MeetingProgress, meeting.id)
    if found is None:
        found = MeetingProgress(meeting_id=meeting.id, speaking_seconds=rules().speaking_seconds)
    return found


def _saved_progress(meeting: Meeting) -> MeetingProgress:
    found = progress_of(meeting)
    if found not in db.session:
        db.session.add(found)
    return found


def _require_open(meeting: Meeting) -> MeetingProgress:
    state = progress_of(meeting)
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."), code="meeting_cancelled")
    if state.closed_at is not None:
        raise Conflict(_("The meeting is closed."), code="meeting_closed")
    if state.opened_at is None:
        raise Conflict(_("The chair has not opened the meeting yet."), code="meeting_not_open")
    return state


def _controlled_meeting(actor: User, meeting_id: int) -> Meeting:
    """The meeting, if ``actor`` may drive it: its chair, or the secretariat."""
    meeting = access.get_meeting(actor, meeting_id)
    access.require_chair_or_staff(actor, meeting)
    return meeting


def open_meeting(actor: User, meeting_id: int) -> MeetingProgress:
    """The chair opens the meeting. Below quorum it still opens (D6 asks for a warning, which
    every screen shows); the number present is recorded."""
    meeting = _controlled_meeting(actor, meeting_id)
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."), code="meeting_cancelled")
    state = _saved_progress(meeting)
    if state.closed_at is not None:
        raise Conflict(_("The meeting is closed."), code="meeting_closed")
    if state.opened_at is not None:
        raise Conflict(_("The meeting is already open."), code="meeting_open")
    state.opened_at = utcnow()
    state.opened_by_id = actor.id
    quorum = quorum_status(meeting)
    audit.record("meeting.opened", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"present": quorum.present, "required": quorum.required})
    db.session.commit()
    broadcast.meeting_state(meeting)
    return state


def close_meeting(actor: User, meeting_id: int) -> MeetingProgress:
    """The chair closes the meeting; an open vote must be closed first, the floor ends."""
    meeting = _controlled_meeting(actor, meeting_id)
    state = _require_open(meeting)
    if db.session.scalar(select(Vote.id).where(Vote.meeting_id == meeting.id,
                                               Vote.status == VoteStatus.OPEN.value)):
        raise Conflict(_("Close the open vote before closing the meeting."), code="vote_open")
    now = utcnow()
    for request in _open_requests(meeting.id):
        request.status = (SpeakerStatus.DONE if request.status == SpeakerStatus.SPEAKING
                          else SpeakerStatus.WITHDRAWN).value
        request.ended_at = now
    state.closed_at = now
    state.closed_by_id = actor.id
    audit.record("meeting.closed", actor=actor, object_type="meeting", object_id=meeting.id)
    db.session.commit()
    broadcast.meeting_state(meeting)
    broadcast.speaker_queue(meeting)
    return state


# --- attendance and quorum (D3, D6) ------------------------------------------------------------


@dataclass
class Quorum:
    present: int  # voting members checked in
    required: int  # D6: two thirds of the voting members
    voters: int

    @property
    def met(self) -> bool:
        return self.present >= self.required


def check_ins(meeting: Meeting) -> dict[int, CheckIn]:
    return {c.user_id: c for c in db.session.scalars(select(CheckIn).where(CheckIn.meeting_id == meeting.id))}


def quorum_status(meeting: Meeting, present: dict[int, CheckIn] | None = None) -> Quorum:
    present = check_ins(meeting) if present is None else present
    voters = [p for p in meeting.participants if p.votes]
    here = sum(1 for p in voters if (c := present.get(p.user_id)) is not None and c.present)
    return Quorum(present=here, required=ceil(len(voters) * rules().quorum), voters=len(voters))


def _deputy_for(meeting: Meeting, user_id: int) -> Participant | None:
    for participant in meeting.participants:
        if participant.deputy_id == user_id and participant.deputy_status == DeputyStatus.APPROVED:
            return participant
    return None


def check_in(actor: User, meeting_id: int, user_id: int | None = None, *, present: bool = True) -> CheckIn:
    """Record that someone is (or is no longer) in the room.

    A participant or an approved deputy checks themselves in, from shortly before the start
    until the meeting closes; the chair and the secretariat record anyone's presence.
    """
    meeting = access.get_meeting(actor, meeting_id)
    user_id = actor.id if user_id is None else user_id
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled."), code="meeting_cancelled")
    state = progress_of(meeting)
    if state.closed_at is not None:
        raise Conflict(_("The meeting is closed."), code="meeting_closed")
    if user_id != actor.id:
        access.require_chair_or_staff(actor, meeting)
    else:
        opens = meeting.starts_at.timestamp() - rules().check_in_opens_minutes * 60
        if state.opened_at is None and utcnow().timestamp() < opens:
            raise Conflict(_("Check-in opens %(minutes)d minutes before the meeting starts.",
                             minutes=rules().check_in_opens_minutes), code="check_in_not_open")
    participant = meeting.participant_for(user_id)
    deputy_of = None if participant is not None else _deputy_for(meeting, user_id)
    if participant is None and deputy_of is None:
        raise NotFound(_("This person is not a participant of the meeting."))
    entry = db.session.scalar(select(CheckIn).where(CheckIn.meeting_id == meeting.id,
                                                    CheckIn.user_id == user_id))
    if entry is None:
        entry = CheckIn(meeting_id=meeting.id, user_id=user_id)
        db.session.add(entry)
    entry.present = present
    entry.deputy_for_id = deputy_of.user_id if deputy_of is not None else None
    entry.at = utcnow()
    entry.recorded_by_id = actor.id
    audit.record("meeting.checked_in" if present else "meeting.checked_out", actor=actor,
                 object_type="meeting", object_id=meeting.id,
                 details={"user_id": user_id, "deputy_for": entry.deputy_for_id})
    db.session.commit()
    broadcast.attendance(meeting)
    return entry


# --- the agenda on the table -------------------------------------------------------------------


def _item_of(meeting: Meeting, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id) if 0 < item_id <= MAX_ID else None
    if item is None or item.meeting_id != meeting.id:
        raise NotFound(_("No such agenda item in this meeting."))
    return item


def set_current_item(actor: User, meeting_id: int, item_id: int | None) -> AgendaItem | None:
    """Put an agenda item on the table (every tablet follows), or none."""
    meeting = _controlled_meeting(actor, meeting_id)
    state = _require_open(meeting)
    item = _item_of(meeting, item_id) if item_id is not None else None
    if item is not None and item.status == AgendaStatus.PLANNED:
        item.status = AgendaStatus.IN_DISCUSSION.value
    state.current_item_id = item.id if item is not None else None
    audit.record("meeting.item_current", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"item_id": state.current_item_id})
    db.session.commit()
    broadcast.agenda_current(meeting)
    return item


def conclude_item(actor: User, meeting_id: int, item_id: int, conclusion: str) -> AgendaItem:
    """Record the chair's conclusion (kết luận) on an item (D8, D11)."""
    meeting = _controlled_meeting(actor, meeting_id)
    _require_open(meeting)
    item = _item_of(meeting, item_id)
    conclusion = (conclusion or "").strip()
    if not conclusion:
        raise _fields_error({"conclusion": _("Write the conclusion.")})
    if len(conclusion) > 10000:
        raise _fields_error({"conclusion": _("At most %(max)d characters.", max=10000)})
    item.conclusion = conclusion
    item.status = AgendaStatus.CONCLUDED.value
    audit.record("agenda.concluded", actor=actor, object_type="agenda_item", object_id=item.id,
                 details={"meeting_id": meeting.id, "conclusion": conclusion})
    db.session.commit()
    broadcast.agenda_item(meeting, item)
    return item


def defer_item(actor: User, meeting_id: int, item_id: int, reason: str = "") -> AgendaItem:
    """Put an item off to a later meeting; it leaves the table if it was on it."""
    meeting = _controlled_meeting(actor, meeting_id)
    state = _require_open(meeting)
    item = _item_of(meeting, item_id)
    if item.status == AgendaStatus.CONCLUDED:
        raise Conflict(_("This item is already concluded."), code="item_concluded")
    reason = (reason or "").strip()[:2000]
    item.status = AgendaStatus.DEFERRED.value
    if reason:
        item.conclusion = reason
    if state.current_item_id == item.id:
        state.current_item_id = None
    audit.record("agenda.deferred", actor=actor, object_type="agenda_item", object_id=item.id,
                 details={"meeting_id": meeting.id, "reason": reason})
    db.session.commit()
    broadcast.agenda_item(meeting, item)
    broadcast.agenda_current(meeting)
    return item


# --- speakers ------------------------------------------------------------------------------------


def _open_requests(meeting_id: int) -> list[SpeakerRequest]:
    return list(db.session.scalars(
        select(SpeakerRequest)
        .where(SpeakerRequest.meeting_id == meeting_id,
               SpeakerRequest.status.in_([SpeakerStatus.WAITING.value, SpeakerStatus.SPEAKING.value]))
        .order_by(SpeakerRequest.requested_at, SpeakerRequest.id)))


def speaker_queue(meeting: Meeting) -> tuple[SpeakerRequest | None, list[SpeakerRequest]]:
    """The person speaking (or None) and the waiting list, in order of request."""
    requests = _open_requests(meeting.id)
    speaking = next((r for r in requests if r.status == SpeakerStatus.SPEAKING), None)
    return speaking, [r for r in requests if r.status == SpeakerStatus.WAITING]


def _in_room_role(actor: User, meeting: Meeting) -> str:
    role = access.meeting_role(actor, meeting)
    if role is None:
        raise PermissionDenied(_("Only the meeting's participants may do this."))
    return role


def request_floor(actor: User, meeting_id: int) -> SpeakerRequest:
    """Ask to speak (participants and approved deputies)."""
    meeting = access.get_meeting(actor, meeting_id)
    _in_room_role(actor, meeting)
    state = _require_open(meeting)
    request = SpeakerRequest(meeting_id=meeting.id, user_id=actor.id,
                             agenda_item_id=state.current_item_id)
    try:
        with db.session.begin_nested():
            db.session.add(request)
    except IntegrityError:
        raise Conflict(_("You have already asked to speak."), code="already_requested") from None
    db.session.flush()
    audit.record("speaker.requested", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"request_id": request.id, "item_id": request.agenda_item_id})
    db.session.commit()
    broadcast.speaker_queue(meeting)
    return request


def _request_of(meeting: Meeting, request_id: int) -> SpeakerRequest:
    request = db.session.get(SpeakerRequest, request_id) if 0 < request_id <= MAX_ID else None
    if request is None or request.meeting_id != meeting.id:
        raise NotFound(_("No such request to speak."))
    return request


def withdraw_request(actor: User, meeting_id: int, request_id: int | None = None) -> SpeakerRequest:
    """Withdraw one's own waiting request (or, for the chair, anyone's)."""
    meeting = access.get_meeting(actor, meeting_id)
    _require_open(meeting)
    if request_id is None:
        request = next((r for r in _open_requests(meeting.id) if r.user_id == actor.id
                        and r.status == SpeakerStatus.WAITING), None)
        if request is None:
            raise NotFound(_("You have not asked to speak."))
    else:
        request = _request_of(meeting, request_id)
        if request.user_id != actor.id:
            access.require_chair_or_staff(actor, meeting)
    if request.status != SpeakerStatus.WAITING:
        raise Conflict(_("This request is no longer waiting."), code="not_waiting")
    request.status = SpeakerStatus.WITHDRAWN.value
    request.ended_at = utcnow()
    audit.record("speaker.withdrawn", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"request_id": request.id, "user_id": request.user_id})
    db.session.commit()
    broadcast.speaker_queue(meeting)
    return request


def _end_current_speaker(meeting: Meeting) -> SpeakerRequest | None:
    speaking, _waiting = speaker_queue(meeting)
    if speaking is not None:
        speaking.status = SpeakerStatus.DONE.value
        speaking.ended_at = utcnow()
        db.session.flush()  # the partial unique index allows the next speaker only after this
    return speaking


def give_floor(actor: User, meeting_id: int, request_id: int, seconds: int | None = None) -> SpeakerRequest:
    """The chair gives the floor to a waiting speaker, for ``seconds`` (default: the setting)."""
    meeting = _controlled_meeting(actor, meeting_id)
    state = _require_open(meeting)
    request = _request_of(meeting, request_id)
    if request.status != SpeakerStatus.WAITING:
        raise Conflict(_("This request is no longer waiting."), code="not_waiting")
    if seconds is not None and not (0 < seconds <= MAX_SPEAKING_SECONDS):
        raise _fields_error({"seconds": _("Between 1 second and %(max)d minutes.",
                                          max=MAX_SPEAKING_SECONDS // 60)})
    previous = _end_current_speaker(meeting)
    request.status = SpeakerStatus.SPEAKING.value
    request.started_at = utcnow()
    request.limit_seconds = seconds or state.speaking_seconds
    request.granted_by_id = actor.id
    audit.record("speaker.floor_given", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"request_id": request.id, "user_id": request.user_id,
                          "seconds": request.limit_seconds,
                          "previous_request_id": previous.id if previous else None})
    db.session.commit()
    broadcast.speaker_queue(meeting)
    return request


def end_floor(actor: User, meeting_id: int) -> SpeakerRequest:
    """End the current speaker's turn: the chair, the secretariat, or the speaker."""
    meeting = access.get_meeting(actor, meeting_id)
    _require_open(meeting)
    speaking, _waiting = speaker_queue(meeting)
    if speaking is None:
        raise Conflict(_("Nobody has the floor."), code="nobody_speaking")
    if speaking.user_id != actor.id:
        access.require_chair_or_staff(actor, meeting)
    _end_current_speaker(meeting)
    audit.record("speaker.floor_ended", actor=actor, object_type="meeting", object_id=meeting.id,
                 details={"request_id": speaking.id, "user_id": speaking.user_id})
    db.session.commit()
    broadcast.speaker_queue(meeting)
    return speaking


# --- votes (D7, D10) ------------------------------------------------------------------------------


def _clean_options(options: list[str] | None) -> tuple[list[dict], bool]:
    if not options:
        return [{"key": key} for key in STANDARD_OPTIONS], True
    labels = [" ".join(str(o).split())[:200] for o in options]
    if len(labels) < 2 or len(labels) > MAX_CUSTOM_OPTIONS or any(not label for label in labels):
        raise _fields_error({"options": _("Give between 2 and %(max)d options, none empty.",
                                          max=MAX_CUSTOM_OPTIONS)})
    if len(set(labels)) != len(labels):
        raise _fields_error({"options": _("The options must differ.")})
    return [{"key": f"o{i + 1}", "label": label} for i, label in enumerate(labels)], False


def open_vote(actor: User, meeting_id: int, *, question: str, agenda_item_id: int | None = None,
              secret: bool = False, options: list[str] | None = None) -> Vote:
    """The chair (or the secretary) opens a vote, by default on the item on the table."""
    meeting = _controlled_meeting(actor, meeting_id)
    state = _require_open(meeting)
    question = " ".join((question or "").split())
    errors = {}
    if not question:
        errors["question"] = _("Write the question put to the vote.")
    elif len(question) > 1000:
        errors["question"] = _("At most %(max)d characters.", max=1000)
    if errors:
        raise _fields_error(errors)
    item_id = agenda_item_id if agenda_item_id is not None else state.current_item_id
    item = _item_of(meeting, item_id) if item_id is not None else None
    clean_options, standard = _clean_options(options)
    quorum = quorum_status(meeting)
    vote = Vote(meeting_id=meeting.id, agenda_item_id=item.id if item else None, question=question,
                secret=bool(secret), options=clean_options, standard=standard,
                status=VoteStatus.OPEN.value, eligible_count=quorum.voters,
                present_count=quorum.present, opened_by_id=actor.id, opened_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(vote)
    except IntegrityError:
        raise Conflict(_("Another vote is open in this meeting: close it first."),
                       code="vote_open") from None
    db.session.add_all(VoteCount(vote_id=vote.id, choice=option["key"], count=0) for option in clean_options)
    audit.record("vote.opened", actor=actor, object_type="vote", object_id=vote.id,
                 details={"meeting_id": meeting.id, "item_id": vote.agenda_item_id, "question": question,
                          "secret": vote.secret, "options": vote.option_keys,
                          "eligible": vote.eligible_count, "present": vote.present_count})
    db.session.commit()
    broadcast.vote_opened(meeting, vote)
    return vote


def get_vote(actor: User, vote_id: int) -> Vote:
    """The vote, if ``actor`` may see its meeting; otherwise 404."""
    vote = db.session.get(Vote, vote_id) if 0 < vote_id <= MAX_ID else None
    if vote is None:
        raise NotFound(_("No such vote."))
    access.get_meeting(actor, vote.meeting_id)
    return vote


def meeting_votes(actor: User, meeting_id: int) -> list[Vote]:
    meeting = access.get_meeting(actor, meeting_id)
    return list(db.session.scalars(select(Vote).where(Vote.meeting_id == meeting.id).order_by(Vote.id)))


def counts(vote: Vote) -> dict[str, int]:
    return counts_of(vote.id, vote.option_keys)


def counts_of(vote_id: int, option_keys: list[str]) -> dict[str, int]:
    rows = db.session.execute(select(VoteCount.choice, VoteCount.count).where(VoteCount.vote_id == vote_id))
    found = dict(rows.all())
    return {key: found.get(key, 0) for key in option_keys}


def named_ballots(vote_id: int) -> list[tuple[int, str, str | None]]:
    """(voter id, name, choice) of an open vote's ballots, in the order they were first cast."""
    return list(db.session.execute(
        select(VoteBallot.voter_id, User.full_name, VoteBallot.choice)
        .join(User, User.id == VoteBallot.voter_id)
        .where(VoteBallot.vote_id == vote_id).order_by(VoteBallot.id)).all())


def ballots(vote: Vote) -> list[VoteBallot]:
    return list(db.session.scalars(select(VoteBallot).where(VoteBallot.vote_id == vote.id)
                                   .order_by(VoteBallot.id)))


def cast_count(vote: Vote) -> int:
    return db.session.scalar(select(func.count()).select_from(VoteBallot)
                             .where(VoteBallot.vote_id == vote.id)) or 0


def my_ballot(actor: User, vote: Vote) -> VoteBallot | None:
    return db.session.scalar(select(VoteBallot).where(VoteBallot.vote_id == vote.id,
                                                      VoteBallot.voter_id == actor.id))


def _receipt_hash(vote_id: int, choice: str, receipt: str) -> str:
    return hashlib.sha256(f"{vote_id}:{choice}:{receipt}".encode()).hexdigest()


def _bump(vote_id: int, choice: str, delta: int) -> None:
    db.session.execute(update(VoteCount).where(VoteCount.vote_id == vote_id, VoteCount.choice == choice)
                       .values(count=VoteCount.count + delta).execution_options(synchronize_session=False))


@dataclass
class CastResult:
    vote: Vote
    choice: str
    changed: bool
    receipt: str | None = None  # secret votes: the only key to change the choice later


def _locked_vote(vote_id: int, *, exclusive: bool) -> Vote | None:
    """The vote row, locked: casts share the lock, closing takes it alone, so no ballot can slip
    in after the result was counted (PostgreSQL; SQLite's writes are serial anyway)."""
    if not 0 < vote_id <= MAX_ID:
        return None
    statement = select(Vote).where(Vote.id == vote_id).with_for_update(read=not exclusive)
    return db.session.scalars(statement.execution_options(populate_existing=True)).first()


def _voter(actor: User, meeting_id: int) -> Participant:
    """The actor's own participant row, found directly: a cast must not load the whole room
    (at 1,000 participants that was most of a cast's time)."""
    participant = db.session.scalar(select(Participant).where(Participant.meeting_id == meeting_id,
                                                              Participant.user_id == actor.id))
    if participant is None:
        access.get_meeting(actor, meeting_id)  # 404 for whoever may not know of the meeting
    if participant is None or not participant.votes:
        raise PermissionDenied(_("Only the meeting's members vote; deputies, guests and the "
                                 "secretariat do not."), code="not_a_voter")
    return participant


def _insert_ballot(values: dict) -> bool:
    """Insert the member's ballot unless one exists; False when it did (a second device, a retry).
    ON CONFLICT DO NOTHING: no savepoint round trips on the hot path."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = (insert(VoteBallot).values(**values)
                 .on_conflict_do_nothing(index_elements=["vote_id", "voter_id"]).returning(VoteBallot.id))
    return db.session.execute(statement).first() is not None


def cast_vote(actor: User, vote_id: int, choice: str, receipt: str | None = None) -> CastResult:
    """A member casts (or changes) their ballot. Exactly one ballot per member counts.

    Open votes keep the choice with the voter's name (D10: named by default). Secret votes keep
    who voted and what was chosen apart; a change needs the receipt given at the first cast.
    """
    vote = _locked_vote(vote_id, exclusive=False)
    if vote is None:
        raise NotFound(_("No such vote."))
    meeting_id = vote.meeting_id
    _voter(actor, meeting_id)
    if not vote.is_open:
        raise Conflict(_("This vote is closed: your ballot was not counted."), code="vote_closed")
    present = db.session.scalar(select(CheckIn.present).where(CheckIn.meeting_id == meeting_id,
                                                              CheckIn.user_id == actor.id))
    if not present:
        raise Conflict(_("Check in to the meeting before you vote."), code="not_checked_in")
    if choice not in vote.option_keys:
        raise _fields_error({"choice": _("Choose one of the options of this vote.")})

    new_receipt = secrets.token_urlsafe(24) if vote.secret else None
    values = {"vote_id": vote.id, "voter_id": actor.id, "cast_at": utcnow(), "changes": 0,
              "choice": None if vote.secret else choice,
              "receipt_hash": _receipt_hash(vote.id, choice, new_receipt) if vote.secret else None}
    if not _insert_ballot(values):
        # The same member pressed twice at once (two devices, a retry): this press changes it.
        return _change_ballot(actor, meeting_id, vote, my_ballot(actor, vote), choice, receipt)
    _bump(vote.id, choice, +1)
    entry = audit.record("vote.cast", actor=actor, object_type="vote", object_id=vote.id,
                         details={} if vote.secret else {"choice": choice})
    return _commit_cast(meeting_id, vote, CastResult(vote, choice, changed=False, receipt=new_receipt),
                        entry)


def _commit_cast(meeting_id: int, vote: Vote, result: CastResult, entry: AuditEntry) -> CastResult:
    """Commit, then send the room the tally. Its revision (the audit ``entry``'s sequence number,
    given out in commit order under the audit lock) lets a tablet drop a tally that arrives after
    a newer one: under load two casts' broadcasts may overtake each other."""
    vote_id, secret, status, eligible, keys = (vote.id, vote.secret, vote.status, vote.eligible_count,
                                               vote.option_keys)
    db.session.commit()
    broadcast.vote_tally(meeting_id, vote_id, secret=secret, status=status, eligible=eligible,
                         option_keys=keys, revision=audit.chained_seq(entry))
    return result


def _change_ballot(actor: User, meeting_id: int, vote: Vote, ballot: VoteBallot, choice: str,
                   receipt: str | None) -> CastResult:
    new_receipt = None
    if vote.secret:
        previous = None
        if receipt:
            previous = next((key for key in vote.option_keys
                             if hmac.compare_digest(_receipt_hash(vote.id, key, receipt),
                                                    ballot.receipt_hash or "")), None)
        if previous is None:
            raise Conflict(_("You have already voted in this secret vote. It can be changed only "
                             "from the device you voted on."), code="already_voted")
        new_receipt = secrets.token_urlsafe(24)
        ballot.receipt_hash = _receipt_hash(vote.id, choice, new_receipt)
    else:
        previous = ballot.choice
    if previous == choice:
        db.session.rollback()
        return CastResult(vote, choice, changed=False, receipt=receipt if vote.secret else None)
    # Rows are always updated in the same order, so two members swapping choices at the same
    # moment cannot deadlock on each other's counters.
    for key, delta in sorted([(previous, -1), (choice, +1)]):
        _bump(vote.id, key, delta)
    if not vote.secret:
        ballot.choice = choice
    ballot.changes += 1
    entry = audit.record("vote.changed", actor=actor, object_type="vote", object_id=vote.id,
                         details={} if vote.secret else {"from": previous, "choice": choice})
    return _commit_cast(meeting_id, vote, CastResult(vote, choice, changed=True, receipt=new_receipt),
                        entry)


def decide(vote: Vote, tally: dict[str, int], chair_choice: str | None) -> tuple[Outcome, dict]:
    """D7: passed when more than half of *all* members voted for; a tie between for and against
    goes the way the chair voted (unknowable in a secret vote: then the chair decides)."""
    if not vote.standard:
        top = max(tally.values(), default=0)
        leaders = [key for key, n in tally.items() if n == top and top > 0]
        return Outcome.COUNTED, {"leading": leaders}
    r = rules()
    threshold = int(vote.eligible_count * r.decision_majority) + 1
    yes, no = tally.get(FOR, 0), tally.get(AGAINST, 0)
    facts = {"threshold": threshold, "basis": r.decision_basis}
    if yes >= threshold:
        return Outcome.PASSED, facts
    if yes == no and yes > 0:
        if chair_choice == FOR:
            return Outcome.PASSED_BY_CHAIR, facts
        if chair_choice == AGAINST:
            return Outcome.REJECTED_BY_CHAIR, facts
        return Outcome.TIE, facts
    return Outcome.REJECTED, facts


def close_vote(actor: User, vote_id: int) -> Vote:
    """Close a vote and record its result on the vote (the record the minutes are drawn from)."""
    vote = _locked_vote(vote_id, exclusive=True)
    if vote is None:
        raise NotFound(_("No such vote."))
    meeting = _controlled_meeting(actor, vote.meeting_id)
    if not vote.is_open:
        raise Conflict(_("This vote is already closed."), code="vote_closed")
    tally = counts(vote)
    chair = meeting.chair
    chair_choice = None
    if chair is not None and not vote.secret:
        chair_choice = db.session.scalar(select(VoteBallot.choice).where(
            VoteBallot.vote_id == vote.id, VoteBallot.voter_id == chair.id))
    outcome, facts = decide(vote, tally, chair_choice)
    vote.status = VoteStatus.CLOSED.value
    vote.closed_at = utcnow()
    vote.closed_by_id = actor.id
    vote.outcome = outcome.value
    cast = sum(tally.values())
    vote.result = {"counts": tally, "cast": cast, "eligible": vote.eligible_count,
                   "present": vote.present_count, "not_voted": max(0, vote.eligible_count - cast), **facts}
    audit.record("vote.closed", actor=actor, object_type="vote", object_id=vote.id,
                 details={"meeting_id": meeting.id, "item_id": vote.agenda_item_id,
                          "outcome": vote.outcome, "result": vote.result})
    db.session.commit()
    broadcast.vote_closed(meeting, vote)
    return vote

