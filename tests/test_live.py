"""The meeting room's rules: opening, check-in and quorum (D6), the agenda on the table,
speakers, and votes (D7, D10), through the service every page, socket and API call uses."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from cabinet.audit.models import AuditEntry
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.extensions import db
from cabinet.live import service
from cabinet.live.models import VoteBallot, VoteCount
from cabinet.meetings import service as meetings_service
from cabinet.meetings.models import AgendaStatus


def _open_with_everyone(cabinet, meeting):
    service.open_meeting(cabinet["pm"], meeting.id)
    for key in ("pm", "tuphap", "yte"):
        service.check_in(cabinet[key], meeting.id)


# --- opening and attendance -------------------------------------------------------------------------


def test_only_the_chair_or_secretariat_opens_the_meeting(cabinet, room):
    with pytest.raises(PermissionDenied):
        service.open_meeting(cabinet["tuphap"], room.id)
    with pytest.raises(NotFound):
        service.open_meeting(cabinet["outsider"], room.id)
    state = service.open_meeting(cabinet["pm"], room.id)
    assert state.is_open
    with pytest.raises(Conflict):
        service.open_meeting(cabinet["thuky"], room.id)


def test_check_in_opens_shortly_before_the_start(cabinet, meeting):
    with pytest.raises(Conflict) as refused:
        service.check_in(cabinet["tuphap"], meeting.id)
    assert refused.value.code == "check_in_not_open"


def test_quorum_counts_voting_members_present(cabinet, room):
    assert service.quorum_status(room).required == 2  # two thirds of 3 members (D6)
    service.check_in(cabinet["guest"], room.id)
    service.check_in(cabinet["thuky"], room.id)
    assert service.quorum_status(room).present == 0  # guests and the secretary do not count
    service.check_in(cabinet["pm"], room.id)
    assert not service.quorum_status(room).met
    service.check_in(cabinet["tuphap"], room.id)
    assert service.quorum_status(room).met
    service.check_in(cabinet["thuky"], room.id, cabinet["tuphap"].id, present=False)
    assert service.quorum_status(room).present == 1


def test_a_deputy_checks_in_but_does_not_count(cabinet, room):
    meetings_service.respond(cabinet["yte"], room.id, attending=False, reason="Công tác nước ngoài",
                             deputy_id=cabinet["thu_truong"].id)
    participant = room.participant_for(cabinet["yte"].id)
    meetings_service.decide_deputy(cabinet["pm"], room.id, participant.id, approve=True)
    entry = service.check_in(cabinet["thu_truong"], room.id)
    assert entry.deputy_for_id == cabinet["yte"].id
    assert service.quorum_status(room).present == 0


def test_only_staff_or_the_chair_record_someone_elses_presence(cabinet, room):
    with pytest.raises(PermissionDenied):
        service.check_in(cabinet["tuphap"], room.id, cabinet["yte"].id)
    with pytest.raises(NotFound):
        service.check_in(cabinet["thuky"], room.id, cabinet["outsider"].id)
    service.check_in(cabinet["pm"], room.id, cabinet["yte"].id)
    assert service.quorum_status(room).present == 1


# --- the agenda on the table ---------------------------------------------------------------------


def test_chair_moves_concludes_and_defers_items(cabinet, room):
    first, second = room.agenda_items
    with pytest.raises(Conflict):  # not open yet
        service.set_current_item(cabinet["pm"], room.id, first.id)
    service.open_meeting(cabinet["pm"], room.id)
    with pytest.raises(PermissionDenied):
        service.set_current_item(cabinet["tuphap"], room.id, first.id)
    service.set_current_item(cabinet["pm"], room.id, first.id)
    assert service.progress_of(room).current_item_id == first.id
    assert first.status == AgendaStatus.IN_DISCUSSION
    with pytest.raises(ValidationError):
        service.conclude_item(cabinet["pm"], room.id, first.id, "   ")
    service.conclude_item(cabinet["pm"], room.id, first.id, "Thông qua dự án Luật.")
    assert first.status == AgendaStatus.CONCLUDED and first.conclusion == "Thông qua dự án Luật."
    service.set_current_item(cabinet["pm"], room.id, second.id)
    service.defer_item(cabinet["thuky"], room.id, second.id, "Chờ báo cáo thẩm định")
    assert second.status == AgendaStatus.DEFERRED
    assert service.progress_of(room).current_item_id is None


def test_an_item_of_another_meeting_cannot_be_put_on_the_table(cabinet, room, meeting):
    meetings_service.add_item(cabinet["thuky"], meeting.id, meetings_service.AgendaItemData(title="Khác"))
    service.open_meeting(cabinet["pm"], room.id)
    with pytest.raises(NotFound):
        service.set_current_item(cabinet["pm"], room.id, meeting.agenda_items[0].id)


# --- speakers -------------------------------------------------------------------------------------


def test_speakers_queue_in_order_and_the_chair_gives_the_floor(cabinet, room):
    service.open_meeting(cabinet["pm"], room.id)
    first = service.request_floor(cabinet["tuphap"], room.id)
    with pytest.raises(Conflict):
        service.request_floor(cabinet["tuphap"], room.id)
    second = service.request_floor(cabinet["yte"], room.id)
    service.request_floor(cabinet["guest"], room.id)
    speaking, waiting = service.speaker_queue(room)
    assert speaking is None and [r.id for r in waiting][:2] == [first.id, second.id]
    with pytest.raises(PermissionDenied):
        service.give_floor(cabinet["yte"], room.id, second.id)
    service.give_floor(cabinet["pm"], room.id, first.id, seconds=120)
    service.give_floor(cabinet["pm"], room.id, second.id)
    speaking, waiting = service.speaker_queue(room)
    assert speaking.id == second.id and speaking.limit_seconds == 300
    assert first.status == "done"
    service.withdraw_request(cabinet["guest"], room.id)
    service.end_floor(cabinet["yte"], room.id)  # the speaker may yield the floor
    assert service.speaker_queue(room) == (None, [])


def test_outsiders_cannot_ask_to_speak(cabinet, room):
    service.open_meeting(cabinet["pm"], room.id)
    with pytest.raises(NotFound):
        service.request_floor(cabinet["outsider"], room.id)


# --- votes ------------------------------------------------------------------------------------------


def _open_vote(cabinet, meeting, **kwargs):
    return service.open_vote(cabinet["pm"], meeting.id, question="Thông qua dự án Luật Đất đai?", **kwargs)


def test_members_vote_and_change_until_close_with_one_ballot_each(cabinet, room):
    _open_with_everyone(cabinet, room)
    service.set_current_item(cabinet["pm"], room.id, room.agenda_items[0].id)
    vote = _open_vote(cabinet, room)
    assert vote.agenda_item_id == room.agenda_items[0].id and vote.eligible_count == 3
    service.cast_vote(cabinet["pm"], vote.id, "for")
    service.cast_vote(cabinet["tuphap"], vote.id, "against")
    changed = service.cast_vote(cabinet["tuphap"], vote.id, "for")
    assert changed.changed
    service.cast_vote(cabinet["tuphap"], vote.id, "for")  # the same press again changes nothing
    assert service.counts(vote) == {"for": 2, "against": 0, "abstain": 0}
    assert len(service.ballots(vote)) == 2
    closed = service.close_vote(cabinet["pm"], vote.id)
    assert closed.outcome == "passed"  # 2 of 3 members: more than half of all members (D7)
    assert closed.result["threshold"] == 2 and closed.result["not_voted"] == 1
    assert room.agenda_items[0].votes == [closed]  # the record the minutes are drawn from
    with pytest.raises(Conflict) as late:
        service.cast_vote(cabinet["yte"], vote.id, "against")
    assert late.value.code == "vote_closed"
    assert service.counts(vote)["against"] == 0


def test_more_than_half_of_all_members_not_of_those_present(cabinet, room):
    _open_with_everyone(cabinet, room)
    service.check_in(cabinet["thuky"], room.id, cabinet["yte"].id, present=False)
    vote = _open_vote(cabinet, room)
    service.cast_vote(cabinet["pm"], vote.id, "for")
    service.cast_vote(cabinet["tuphap"], vote.id, "abstain")
    assert service.close_vote(cabinet["pm"], vote.id).outcome == "rejected"  # 1 of 3, though 1 of 1 cast for


def test_a_tie_goes_the_way_the_chair_voted(cabinet, room):
    _open_with_everyone(cabinet, room)
    vote = _open_vote(cabinet, room)
    service.cast_vote(cabinet["pm"], vote.id, "against")
    service.cast_vote(cabinet["tuphap"], vote.id, "for")
    service.cast_vote(cabinet["yte"], vote.id, "abstain")
    assert service.close_vote(cabinet["thuky"], vote.id).outcome == "rejected_by_chair"
    vote = _open_vote(cabinet, room)
    service.cast_vote(cabinet["pm"], vote.id, "for")
    service.cast_vote(cabinet["tuphap"], vote.id, "against")
    assert service.close_vote(cabinet["pm"], vote.id).outcome == "passed_by_chair"


def test_deputies_guests_and_secretaries_cannot_vote(cabinet, room):
    meetings_service.respond(cabinet["yte"], room.id, attending=False, reason="Ốm",
                             deputy_id=cabinet["thu_truong"].id)
    meetings_service.decide_deputy(cabinet["pm"], room.id, room.participant_for(cabinet["yte"].id).id, True)
    _open_with_everyone(cabinet, room)
    service.check_in(cabinet["thu_truong"], room.id)
    service.check_in(cabinet["guest"], room.id)
    vote = _open_vote(cabinet, room)
    for key in ("thu_truong", "guest", "thuky"):
        with pytest.raises(PermissionDenied):
            service.cast_vote(cabinet[key], vote.id, "for")
    with pytest.raises(NotFound):
        service.cast_vote(cabinet["outsider"], vote.id, "for")
    assert service.cast_count(vote) == 0


def test_a_member_must_be_checked_in_and_choose_a_real_option(cabinet, room):
    service.open_meeting(cabinet["pm"], room.id)
    service.check_in(cabinet["pm"], room.id)
    vote = _open_vote(cabinet, room)
    with pytest.raises(Conflict) as absent:
        service.cast_vote(cabinet["tuphap"], vote.id, "for")
    assert absent.value.code == "not_checked_in"
    with pytest.raises(ValidationError):
        service.cast_vote(cabinet["pm"], vote.id, "maybe")


def test_one_open_vote_at_a_time_and_the_meeting_closes_only_after_it(cabinet, room):
    _open_with_everyone(cabinet, room)
    vote = _open_vote(cabinet, room)
    with pytest.raises(Conflict):
        _open_vote(cabinet, room)
    with pytest.raises(Conflict):
        service.close_meeting(cabinet["pm"], room.id)
    with pytest.raises(PermissionDenied):
        service.close_vote(cabinet["tuphap"], vote.id)
    service.close_vote(cabinet["pm"], vote.id)
    with pytest.raises(Conflict):
        service.close_vote(cabinet["pm"], vote.id)
    service.close_meeting(cabinet["pm"], room.id)
    with pytest.raises(Conflict):
        _open_vote(cabinet, room)


def test_custom_options_are_counted(cabinet, room):
    _open_with_everyone(cabinet, room)
    with pytest.raises(ValidationError):
        _open_vote(cabinet, room, options=["Phương án 1"])
    vote = _open_vote(cabinet, room, options=["Phương án 1", "Phương án 2"])
    service.cast_vote(cabinet["pm"], vote.id, "o2")
    service.cast_vote(cabinet["yte"], vote.id, "o2")
    closed = service.close_vote(cabinet["pm"], vote.id)
    assert closed.outcome == "counted" and closed.result["leading"] == ["o2"]


def test_secret_votes_keep_no_voter_next_to_a_choice(cabinet, room):
    _open_with_everyone(cabinet, room)
    vote = _open_vote(cabinet, room, secret=True)
    first = service.cast_vote(cabinet["tuphap"], vote.id, "against")
    service.cast_vote(cabinet["yte"], vote.id, "for")
    service.cast_vote(cabinet["pm"], vote.id, "for")
    assert first.receipt
    # Who voted is known, what they chose is not: no choice next to a voter anywhere.
    rows = db.session.scalars(select(VoteBallot).where(VoteBallot.vote_id == vote.id)).all()
    assert len(rows) == 3 and all(row.choice is None for row in rows)
    assert "voter_id" not in {c.name for c in inspect(VoteCount).columns}
    casts = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "vote.cast",
                                                        AuditEntry.object_id == str(vote.id))).all()
    assert len(casts) == 3 and all("choice" not in entry.details for entry in casts)
    # A change needs the receipt the member's device was given.
    with pytest.raises(Conflict) as refused:
        service.cast_vote(cabinet["tuphap"], vote.id, "for")
    assert refused.value.code == "already_voted"
    with pytest.raises(Conflict):
        service.cast_vote(cabinet["tuphap"], vote.id, "for", receipt="guessed")
    changed = service.cast_vote(cabinet["tuphap"], vote.id, "abstain", receipt=first.receipt)
    assert changed.changed and changed.receipt != first.receipt
    assert service.counts(vote) == {"for": 2, "against": 0, "abstain": 1}
    closed = service.close_vote(cabinet["pm"], vote.id)
    assert closed.outcome == "passed" and closed.result["counts"]["for"] == 2


def test_a_secret_tie_is_left_to_the_chair(cabinet, room):
    _open_with_everyone(cabinet, room)
    vote = _open_vote(cabinet, room, secret=True)
    service.cast_vote(cabinet["pm"], vote.id, "for")
    service.cast_vote(cabinet["tuphap"], vote.id, "against")
    assert service.close_vote(cabinet["pm"], vote.id).outcome == "tie"


def test_every_change_in_the_room_is_audited(cabinet, room):
    _open_with_everyone(cabinet, room)
    vote = _open_vote(cabinet, room)
    service.cast_vote(cabinet["pm"], vote.id, "for")
    service.close_vote(cabinet["pm"], vote.id)
    service.close_meeting(cabinet["pm"], room.id)
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"meeting.opened", "meeting.checked_in", "vote.opened", "vote.cast", "vote.closed",
            "meeting.closed"} <= actions
