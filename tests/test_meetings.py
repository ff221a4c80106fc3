"""Meetings: scheduling, who sees them, attendance and deputies, agenda, positions, calendar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.core.errors import NotFound, PermissionDenied, ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.meetings import calendar, service
from cabinet.meetings.models import AgendaChange, Meeting
from tests.conftest import csrf_token, login
from tests.meeting_factories import schedule


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


# --- scheduling -------------------------------------------------------------------------------


def test_secretariat_schedules_a_meeting_with_participants(meeting, cabinet):
    assert meeting.chair.id == cabinet["pm"].id
    assert {p.user.username: p.role for p in meeting.participants} == {
        "thutuong": "chair", "bt.tuphap": "member", "bt.yte": "member", "thuky": "secretary",
        "khach": "guest"}
    assert "meeting.created" in actions()


def test_a_member_cannot_schedule_a_meeting(cabinet):
    with pytest.raises(PermissionDenied):
        schedule(cabinet["tuphap"], chair=cabinet["pm"])


@pytest.mark.parametrize("change, field", [
    ({"hours": -1}, "ends_at"),
    ({"title": "   "}, "title"),
    ({"place": ""}, "place"),
    ({"kind": "party"}, "kind"),
])
def test_invalid_meetings_are_refused_naming_the_field(cabinet, change, field):
    with pytest.raises(ValidationError) as err:
        schedule(cabinet["thuky"], chair=cabinet["pm"], **change)
    assert field in err.value.details["fields"]
    assert db.session.scalar(select(Meeting)) is None


def test_only_a_government_member_can_chair(cabinet):
    with pytest.raises(ValidationError) as err:
        schedule(cabinet["thuky"], chair=cabinet["guest"])
    assert "participants" in err.value.details["fields"]


def test_staff_page_schedules_a_meeting_in_hanoi_time(client, cabinet):
    login(client, "thuky")
    token = csrf_token(client, "/meetings/new")
    response = client.post("/meetings/new", data={
        "csrf_token": token, "kind": "regular", "title": "Phiên họp chuyên đề xây dựng pháp luật",
        "day": "2027-03-05", "start": "08:30", "end": "11:30", "place": "Phòng họp số 1",
        "online_url": "", "description": "", "chair": cabinet["pm"].id,
        "members": [cabinet["tuphap"].id, cabinet["yte"].id], "secretaries": [cabinet["thuky"].id]})
    assert response.status_code == 302
    meeting = db.session.scalar(select(Meeting))
    assert meeting.starts_at.isoformat() == "2027-03-05T01:30:00+00:00"  # 08:30 in Hà Nội
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Phiên họp chuyên đề xây dựng pháp luật" in page and "08:30 05/03/2027" in page


def test_page_shows_field_errors_for_a_meeting_that_ends_before_it_starts(client, cabinet):
    login(client, "thuky")
    token = csrf_token(client, "/meetings/new")
    response = client.post("/meetings/new", data={
        "csrf_token": token, "kind": "regular", "title": "X", "day": "2027-03-05", "start": "11:30",
        "end": "08:30", "place": "P", "chair": cabinet["pm"].id})
    assert response.status_code == 422
    assert 'id="end-err"' in response.get_data(as_text=True)


# --- who sees what ----------------------------------------------------------------------------


def test_participants_and_staff_see_the_meeting_others_get_404(app, meeting, cabinet, make_user):
    make_user("quantri", role="admin")
    for username, status in [("thutuong", 200), ("bt.tuphap", 200), ("khach", 200), ("thuky", 200),
                             ("quantri", 200), ("bt.khac", 404)]:
        client = app.test_client()
        login(client, username)
        assert client.get(f"/meetings/{meeting.id}").status_code == status, username


def test_meeting_list_shows_only_my_meetings(client, meeting, cabinet):
    other = schedule(cabinet["thuky"], chair=cabinet["pm"], title="Phiên họp riêng của Thủ tướng")
    login(client, "bt.tuphap")
    page = client.get("/meetings/").get_data(as_text=True)
    assert meeting.title in page and other.title not in page


def test_unknown_or_huge_meeting_ids_are_404(client, meeting):
    login(client, "thuky")
    assert client.get("/meetings/9999").status_code == 404
    assert client.get("/meetings/99999999999999999999").status_code == 404


def test_member_cannot_reach_the_staff_forms(client, meeting):
    login(client, "bt.tuphap")
    assert client.get("/meetings/new").status_code == 403
    assert client.get(f"/meetings/{meeting.id}/edit").status_code == 403
    token = csrf_token(client, "/")
    assert client.post(f"/meetings/{meeting.id}/cancel", data={"csrf_token": token,
                                                             "reason": "x"}).status_code == 403


# --- reschedule, cancel, double booking -------------------------------------------------------


def _data(meeting, **changes):
    values = dict(title=meeting.title, starts_at=meeting.starts_at, ends_at=meeting.ends_at,
                  place=meeting.place, kind=meeting.kind,
                  participants={p.user_id: p.role for p in meeting.participants})
    values.update(changes)
    return service.MeetingData(**values)


def test_rescheduling_keeps_answers_and_raises_the_calendar_sequence(meeting, cabinet):
    service.respond(cabinet["tuphap"], meeting.id, attending=True)
    later = meeting.starts_at + timedelta(days=1)
    service.update_meeting(cabinet["thuky"], meeting.id,
                           _data(meeting, starts_at=later, ends_at=later + timedelta(hours=2)))
    db.session.refresh(meeting)
    assert meeting.ical_sequence == 1
    assert meeting.participant_for(cabinet["tuphap"].id).attendance == "confirmed"
    change = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.updated")).one()
    assert "starts_at" in change.details["changes"]


def test_double_booked_participants_are_flagged(meeting, cabinet):
    clash = schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["yte"]],
                     title="Họp Hội đồng", starts_in=timedelta(days=10, hours=1))
    clashes = service.double_bookings(meeting)
    assert set(clashes) == {cabinet["pm"].id, cabinet["yte"].id}
    assert clashes[cabinet["yte"].id][0].id == clash.id
    service.cancel_meeting(cabinet["thuky"], clash.id, "Hoãn")
    assert service.double_bookings(meeting) == {}


def test_cancelling_needs_a_reason_and_freezes_the_meeting(meeting, cabinet):
    with pytest.raises(ValidationError):
        service.cancel_meeting(cabinet["thuky"], meeting.id, "  ")
    service.cancel_meeting(cabinet["thuky"], meeting.id, "Thủ tướng đi công tác")
    with pytest.raises(ValidationError):
        service.update_meeting(cabinet["thuky"], meeting.id, _data(meeting, title="New"))
    with pytest.raises(ValidationError):
        service.respond(cabinet["tuphap"], meeting.id, attending=True)
    assert "meeting.cancelled" in actions()


# --- attendance and deputies ----------------------------------------------------------------


def test_member_confirms_attendance_on_the_page(client, meeting, cabinet):
    login(client, "bt.tuphap")
    token = csrf_token(client, f"/meetings/{meeting.id}")
    response = client.post(f"/meetings/{meeting.id}/respond",
                           data={"csrf_token": token, "answer": "yes", "reason": "", "deputy": "0"})
    assert response.status_code == 302
    db.session.refresh(meeting)
    assert meeting.participant_for(cabinet["tuphap"].id).attendance == "confirmed"


def test_absence_needs_a_reason(meeting, cabinet):
    with pytest.raises(ValidationError) as err:
        service.respond(cabinet["tuphap"], meeting.id, attending=False, reason="")
    assert "reason" in err.value.details["fields"]


def test_deputy_sees_the_meeting_only_once_the_chair_approves(app, meeting, cabinet):
    participant = service.respond(cabinet["tuphap"], meeting.id, attending=False,
                                  reason="Công tác nước ngoài", deputy_id=cabinet["thu_truong"].id)
    assert participant.deputy_status == "pending"
    deputy_client = app.test_client()
    login(deputy_client, "tt.tuphap")
    assert deputy_client.get(f"/meetings/{meeting.id}").status_code == 404
    with pytest.raises(PermissionDenied):
        service.decide_deputy(cabinet["yte"], meeting.id, participant.id, True)
    service.decide_deputy(cabinet["pm"], meeting.id, participant.id, True)
    assert deputy_client.get(f"/meetings/{meeting.id}").status_code == 200
    assert "meeting.deputy_approved" in actions()


def test_rejected_deputy_does_not_see_the_meeting(app, meeting, cabinet):
    participant = service.respond(cabinet["tuphap"], meeting.id, attending=False, reason="Ốm",
                                  deputy_id=cabinet["thu_truong"].id)
    service.decide_deputy(cabinet["pm"], meeting.id, participant.id, False)
    client = app.test_client()
    login(client, "tt.tuphap")
    assert client.get(f"/meetings/{meeting.id}").status_code == 404


def test_a_participant_cannot_be_named_deputy(meeting, cabinet):
    with pytest.raises(ValidationError):
        service.respond(cabinet["tuphap"], meeting.id, attending=False, reason="Ốm",
                        deputy_id=cabinet["yte"].id)


def test_outsider_cannot_answer_an_invitation(meeting, cabinet):
    with pytest.raises(NotFound):
        service.respond(cabinet["outsider"], meeting.id, attending=True)


# --- agenda ----------------------------------------------------------------------------------


def _agenda(meeting, actor, titles=("Dự án Luật Đất đai (sửa đổi)", "Nghị định về ngân sách",
                                    "Báo cáo tình hình kinh tế - xã hội")):
    return [service.add_item(actor, meeting.id, service.AgendaItemData(
        title=t, presenter_organisation="Bộ Tư pháp", minutes=30)) for t in titles]


def test_agenda_is_reordered_by_drag_and_drop_json(client, meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    login(client, "thuky")
    token = csrf_token(client, f"/meetings/{meeting.id}")
    order = [items[2].id, items[0].id, items[1].id]
    response = client.post(f"/meetings/{meeting.id}/agenda/reorder", json={"order": order},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json() == {"ok": True, "order": order}
    db.session.refresh(meeting)
    assert [i.id for i in meeting.agenda_items] == order
    bad = client.post(f"/meetings/{meeting.id}/agenda/reorder", json={"order": order[:2]},
                      headers={"X-CSRFToken": token})
    assert bad.status_code == 422 and "error" in bad.get_json()
    no_csrf = client.post(f"/meetings/{meeting.id}/agenda/reorder", json={"order": order})
    assert no_csrf.status_code == 400


def test_member_cannot_reorder_the_agenda(client, meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    login(client, "bt.tuphap")
    token = csrf_token(client, f"/meetings/{meeting.id}")
    response = client.post(f"/meetings/{meeting.id}/agenda/reorder",
                           json={"order": [i.id for i in reversed(items)]}, headers={"X-CSRFToken": token})
    assert response.status_code == 403


def test_move_buttons_work_without_javascript(client, meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    login(client, "thuky")
    token = csrf_token(client, f"/meetings/{meeting.id}")
    client.post(f"/agenda/{items[2].id}/move", data={"csrf_token": token, "direction": "up"})
    db.session.refresh(meeting)
    assert [i.id for i in meeting.agenda_items] == [items[0].id, items[2].id, items[1].id]


def test_only_the_chair_approves_and_later_changes_are_tracked(meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    with pytest.raises(PermissionDenied):
        service.approve_agenda(cabinet["thuky"], meeting.id)
    service.approve_agenda(cabinet["pm"], meeting.id)
    assert db.session.scalar(select(AgendaChange)) is None
    service.update_item(cabinet["thuky"], items[1].id, service.AgendaItemData(minutes=45))
    service.remove_item(cabinet["thuky"], items[0].id)
    changes = db.session.scalars(select(AgendaChange).order_by(AgendaChange.id)).all()
    assert [c.action for c in changes] == ["edited", "removed"]
    db.session.refresh(meeting)
    assert [i.position for i in meeting.agenda_items] == [1, 2]


def test_agenda_page_shows_the_running_total_against_the_meeting_length(client, meeting, cabinet):
    _agenda(meeting, cabinet["thuky"])
    login(client, "bt.tuphap")
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert '<span id="agenda-total">90</span>' in page and "180" in page


# --- positions (D9) ---------------------------------------------------------------------------


def test_members_record_positions_and_the_chair_sees_the_board(client, meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    login(client, "bt.tuphap")
    token = csrf_token(client, f"/meetings/{meeting.id}")
    client.post(f"/meetings/{meeting.id}/positions", data={
        "csrf_token": token, f"stance-{items[0].id}": "agree", f"stance-{items[1].id}": "comment",
        f"comment-{items[1].id}": "Đề nghị bổ sung đánh giá tác động", f"stance-{items[2].id}": "debate"})
    board = service.positions_board(cabinet["pm"], meeting.id)
    assert [row.counts for row in board] == [
        {"agree": 1, "comment": 0, "debate": 0}, {"agree": 0, "comment": 1, "debate": 0},
        {"agree": 0, "comment": 0, "debate": 1}]
    assert [u.username for u in board[0].missing] == ["thutuong", "bt.yte"] or \
        sorted(u.username for u in board[0].missing) == ["bt.yte", "thutuong"]
    service.set_passes_without_debate(cabinet["pm"], items[0].id, True)
    with pytest.raises(ValidationError):
        service.set_passes_without_debate(cabinet["pm"], items[2].id, True)
    with pytest.raises(PermissionDenied):
        service.positions_board(cabinet["tuphap"], meeting.id)


def test_comment_stance_needs_text_and_guests_cannot_state_positions(meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    with pytest.raises(ValidationError):
        service.record_position(cabinet["tuphap"], items[0].id, "comment", "")
    with pytest.raises(PermissionDenied):
        service.record_position(cabinet["guest"], items[0].id, "agree")


def test_positions_close_when_the_meeting_starts(meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    meeting.starts_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(ValidationError):
        service.record_position(cabinet["tuphap"], items[0].id, "agree")


# --- calendar -------------------------------------------------------------------------------


def _feed(client, token):
    response = client.get(f"/calendar/feed/{token}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def test_ics_feed_parses_and_follows_a_reschedule_and_a_cancellation(client, meeting, cabinet):
    token = calendar.renew_feed_token(cabinet["tuphap"])
    events = _feed(client, token).walk("VEVENT")
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == meeting.title
    assert events[0]["DTSTART"].dt == meeting.starts_at
    later = meeting.starts_at + timedelta(days=2)
    service.update_meeting(cabinet["thuky"], meeting.id,
                           _data(meeting, starts_at=later, ends_at=later + timedelta(hours=2)))
    moved = _feed(client, token).walk("VEVENT")[0]
    assert moved["DTSTART"].dt == later and int(moved["SEQUENCE"]) == 1
    assert str(moved["UID"]) == str(events[0]["UID"])
    service.cancel_meeting(cabinet["thuky"], meeting.id, "Hoãn")
    cancelled = _feed(client, token).walk("VEVENT")[0]
    assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) == 2


def test_feed_lists_only_the_users_meetings(client, meeting, cabinet):
    schedule(cabinet["thuky"], chair=cabinet["pm"], title="Phiên họp khác")
    token = calendar.renew_feed_token(cabinet["tuphap"])
    assert [str(e["SUMMARY"]) for e in _feed(client, token).walk("VEVENT")] == [meeting.title]


def test_a_renewed_feed_address_replaces_the_old_one(client, meeting, cabinet):
    old = calendar.renew_feed_token(cabinet["tuphap"])
    new = calendar.renew_feed_token(cabinet["tuphap"])
    assert client.get(f"/calendar/feed/{old}.ics").status_code == 404
    assert client.get(f"/calendar/feed/{new}.ics").status_code == 200
    assert client.get("/calendar/feed/made-up.ics").status_code == 404


def test_calendar_page_shows_the_address_once(client, meeting, cabinet):
    login(client, "bt.tuphap")
    page = client.get("/calendar").get_data(as_text=True)
    assert meeting.title in page
    token = csrf_token(client, "/calendar")
    shown = client.post("/calendar/feed", data={"csrf_token": token}).get_data(as_text=True)
    assert "/calendar/feed/" in shown
    assert "/calendar/feed/" not in client.get("/calendar").get_data(as_text=True)


def test_a_cancelled_meeting_takes_no_more_decisions(meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    participant = service.respond(cabinet["tuphap"], meeting.id, attending=False, reason="Ốm",
                                  deputy_id=cabinet["thu_truong"].id)
    service.cancel_meeting(cabinet["thuky"], meeting.id, "Hoãn")
    with pytest.raises(ValidationError):
        service.approve_agenda(cabinet["pm"], meeting.id)
    with pytest.raises(ValidationError):
        service.decide_deputy(cabinet["pm"], meeting.id, participant.id, True)
    with pytest.raises(ValidationError):
        service.set_passes_without_debate(cabinet["pm"], items[0].id, True)


def test_only_voting_members_send_a_deputy(meeting, cabinet):
    with pytest.raises(ValidationError) as err:
        service.respond(cabinet["guest"], meeting.id, attending=False, reason="Bận",
                        deputy_id=cabinet["thu_truong"].id)
    assert "deputy_id" in err.value.details["fields"]
    assert service.respond(cabinet["guest"], meeting.id, attending=False, reason="Bận").deputy_id is None


def test_a_refused_position_does_not_lose_the_others(client, meeting, cabinet):
    items = _agenda(meeting, cabinet["thuky"])
    login(client, "bt.tuphap")
    token = csrf_token(client, f"/meetings/{meeting.id}")
    page = client.post(f"/meetings/{meeting.id}/positions", data={
        "csrf_token": token, f"stance-{items[0].id}": "agree", f"stance-{items[1].id}": "comment",
        f"comment-{items[1].id}": "", f"stance-{items[2].id}": "debate"}, follow_redirects=True)
    board = service.positions_board(cabinet["pm"], meeting.id)
    assert [sum(row.counts.values()) for row in board] == [1, 0, 1]
    assert f"2. {items[1].title}" in page.get_data(as_text=True)
