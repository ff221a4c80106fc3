"""Notifications: issuing a ballot tells every recipient, live on their sockets and in their list;
each user sees and marks only their own; nothing goes out for a transaction that rolled back."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cabinet.ballots import service as ballots
from cabinet.core.errors import NotFound
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db, socketio
from cabinet.notifications import service
from cabinet.notifications.models import Notification
from cabinet.users.models import User
from tests.conftest import csrf_token, login


@contextlib.contextmanager
def fresh_context(app):
    """Like a request or a socket event: its own app context, after the test's transaction."""
    db.session.commit()
    with app.app_context():
        yield


def connect(app, client):
    with fresh_context(app):
        return socketio.test_client(app, flask_test_client=client)


def issue(cabinet, recipients=("pm", "tuphap", "yte")):
    return issue_by_ids(cabinet["thuky"].id, [cabinet[k].id for k in recipients])


def issue_by_ids(secretary_id: int, recipient_ids: list[int]):
    """Issue a ballot with the accounts loaded in the current session (safe in a fresh context)."""
    secretary = db.session.get(User, secretary_id)
    data = ballots.BallotData(
        title="Dự thảo Nghị định quy định chi tiết Luật Đất đai", number="45/PLYK-VPCP",
        questions=["Đồng ý thông qua dự thảo Nghị định?"], deadline=utcnow() + timedelta(days=3),
        recipient_ids=recipient_ids)
    ballot = ballots.create_ballot(secretary, data)
    return ballots.issue_ballot(secretary, ballot.id)


def notifications_of(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


def new_notifications(sio) -> list[dict]:
    return [m["args"][0] for m in sio.get_received() if m["name"] == "notification.new"]


def test_issuing_a_ballot_notifies_each_recipient_once(cabinet):
    ballot = issue(cabinet)
    for key in ("pm", "tuphap", "yte"):
        [note] = notifications_of(cabinet[key])
        assert note.kind == "ballot.issued" and note.url == f"/ballots/{ballot.id}"
        assert "45/PLYK-VPCP" in note.title and note.read_at is None
    assert notifications_of(cabinet["outsider"]) == []
    assert notifications_of(cabinet["thuky"]) == []


def test_a_recipient_gets_notification_new_on_the_socket_and_others_do_not(app, cabinet):
    recipient, other = app.test_client(), app.test_client()
    login(recipient, "bt.tuphap")
    login(other, "bt.khac")  # a member, not on this ballot
    recipient_sio, other_sio = connect(app, recipient), connect(app, other)
    recipient_sio.get_received(), other_sio.get_received()
    ids = (cabinet["thuky"].id, [cabinet[k].id for k in ("pm", "tuphap", "yte")])
    with fresh_context(app):
        ballot_id = issue_by_ids(*ids).id
    [pushed] = new_notifications(recipient_sio)
    assert pushed["kind"] == "ballot.issued" and pushed["url"] == f"/ballots/{ballot_id}"
    assert pushed["unread"] == 1 and "45/PLYK-VPCP" in pushed["title"]
    assert set(pushed) == {"id", "kind", "title", "body", "url", "created_at", "unread"}
    assert new_notifications(other_sio) == []


def test_nothing_is_delivered_for_a_transaction_that_rolled_back(app, client, cabinet):
    login(client, "bt.tuphap")
    sio = connect(app, client)
    sio.get_received()
    user_id = cabinet["tuphap"].id
    with fresh_context(app):
        service.notify([user_id], kind="test.rolled_back", title="Không gửi", url="/")
        db.session.rollback()
        service.notify([user_id], kind="test.sent", title="Được gửi", url="/")
        db.session.commit()
    assert [p["kind"] for p in new_notifications(sio)] == ["test.sent"]
    assert [n.kind for n in notifications_of(cabinet["tuphap"])] == ["test.sent"]


def test_a_notification_links_inside_the_app_only(cabinet):
    for url in ("https://example.org/x", "//example.org/x", "ballots/1"):
        with pytest.raises(ValueError):
            service.notify([cabinet["pm"].id], kind="test", title="x", url=url)


def test_the_list_shows_only_ones_own_notifications_newest_first(client, cabinet):
    issue(cabinet)
    service.notify([cabinet["yte"].id], kind="test.private", title="Riêng của Bộ Y tế", url="/")
    service.notify([cabinet["tuphap"].id], kind="test.newer", title="Tin mới hơn cho Bộ Tư pháp", url="/")
    db.session.commit()
    login(client, "bt.tuphap")
    page = client.get("/notifications").get_data(as_text=True)
    assert "Riêng của Bộ Y tế" not in page
    assert page.index("Tin mới hơn cho Bộ Tư pháp") < page.index("45/PLYK-VPCP")
    assert 'href="/ballots/' in page
    # Opening the list marks nothing as read.
    assert all(n.read_at is None for n in notifications_of(cabinet["tuphap"]))


def test_the_empty_list_says_so(client, cabinet):
    login(client, "bt.tuphap")
    response = client.get("/notifications")
    assert response.status_code == 200 and 'class="empty"' in response.get_data(as_text=True)


def test_the_unread_count_follows_marking_read(client, cabinet):
    issue(cabinet)
    service.notify([cabinet["tuphap"].id], kind="test", title="Thêm một tin", url="/")
    db.session.commit()
    mine = notifications_of(cabinet["tuphap"])
    assert service.unread_count(cabinet["tuphap"]) == 2
    login(client, "bt.tuphap")
    assert client.get("/notifications/unread-count").get_json() == {"unread": 2}
    home = client.get("/").get_data(as_text=True)
    assert 'id="notif-count-n">2<' in home
    token = csrf_token(client, "/notifications")
    response = client.post(f"/notifications/{mine[0].id}/read", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/notifications")
    assert client.get("/notifications/unread-count").get_json() == {"unread": 1}
    # "Open" from an e-mail-like flow: mark read, then go where the notification points.
    response = client.post("/notifications/read-all", data={"csrf_token": token, "next": "/ballots/1"})
    assert response.headers["Location"].endswith("/ballots/1")
    assert client.get("/notifications/unread-count").get_json() == {"unread": 0}
    assert 'id="notif-count" hidden' in client.get("/").get_data(as_text=True)
    # Someone else's notifications are untouched.
    assert service.unread_count(cabinet["pm"]) == 1


def test_marking_another_users_notification_read_is_not_found(client, cabinet):
    issue(cabinet)
    [theirs] = notifications_of(cabinet["pm"])
    login(client, "bt.tuphap")
    token = csrf_token(client, "/notifications")
    assert client.post(f"/notifications/{theirs.id}/read", data={"csrf_token": token}).status_code == 404
    assert client.post("/notifications/999999/read", data={"csrf_token": token}).status_code == 404
    db.session.refresh(theirs)
    assert theirs.read_at is None
    with pytest.raises(NotFound):
        service.mark_read(cabinet["tuphap"], theirs.id)


def test_marking_read_needs_the_csrf_token_and_a_login(client, cabinet):
    issue(cabinet)
    [mine] = notifications_of(cabinet["tuphap"])
    assert client.get("/notifications").status_code in (302, 401)
    login(client, "bt.tuphap")
    assert client.post(f"/notifications/{mine.id}/read").status_code == 400
    db.session.refresh(mine)
    assert mine.read_at is None


def test_marking_read_updates_the_badge_on_the_users_other_devices(app, cabinet):
    issue(cabinet)
    tablet, laptop = app.test_client(), app.test_client()
    login(tablet, "bt.tuphap")
    login(laptop, "bt.tuphap")
    sio = connect(app, tablet)
    sio.get_received()
    token = csrf_token(laptop, "/notifications")
    laptop.post("/notifications/read-all", data={"csrf_token": token})
    [change] = [m["args"][0] for m in sio.get_received() if m["name"] == "notification.read"]
    assert change == {"ids": "all", "unread": 0}



# --- meetings, documents, reminders: who is told what ------------------------------------------------


from cabinet.audit.models import AuditEntry  # noqa: E402
from cabinet.documents import service as documents  # noqa: E402
from cabinet.meetings import service as meetings  # noqa: E402
from cabinet.meetings.models import Participant  # noqa: E402
from cabinet.notifications.models import MeetingReminder  # noqa: E402
from tests.meeting_factories import schedule  # noqa: E402
from tests.test_documents import upload  # noqa: E402


def kinds_of(user, kind: str) -> list[Notification]:
    return [n for n in notifications_of(user) if n.kind == kind]


def meeting_data(meeting, **changes) -> meetings.MeetingData:
    """The meeting as its edit form would send it, with ``changes``."""
    values = {"title": meeting.title, "starts_at": meeting.starts_at, "ends_at": meeting.ends_at,
              "kind": meeting.kind, "description": meeting.description, "place": meeting.place,
              "online_url": meeting.online_url,
              "participants": {p.user_id: p.role for p in meeting.participants}}
    values.update(changes)
    return meetings.MeetingData(**values)


def with_email(*users) -> None:
    for user in users:
        user.email = f"{user.username}@chinhphu.vn"
    db.session.commit()


def test_scheduling_a_meeting_invites_each_participant_but_not_the_scheduler(cabinet, meeting):
    for key in ("pm", "tuphap", "yte", "guest"):
        [note] = kinds_of(cabinet[key], "meeting.invited")
        assert meeting.title in note.title and note.url == f"/meetings/{meeting.id}"
        assert "Phòng họp Chính phủ" in note.body
    assert kinds_of(cabinet["thuky"], "meeting.invited") == []  # the secretary scheduled it
    assert notifications_of(cabinet["outsider"]) == []


def test_a_meeting_entered_after_it_was_held_invites_nobody(cabinet):
    held = schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["tuphap"]],
                    title="Phiên họp đã diễn ra", starts_in=-timedelta(days=28))
    assert held.ends_at < utcnow()
    assert kinds_of(cabinet["pm"], "meeting.invited") == []
    assert kinds_of(cabinet["tuphap"], "meeting.invited") == []


def test_a_new_time_tells_everyone_old_and_new_and_a_newcomer_gets_the_invitation(cabinet, meeting):
    old_start = meeting.starts_at
    new_start = old_start + timedelta(days=1, hours=2)
    data = meeting_data(meeting, starts_at=new_start, ends_at=new_start + timedelta(hours=3))
    data.participants[cabinet["outsider"].id] = "member"
    meetings.update_meeting(cabinet["thuky"], meeting.id, data)
    from cabinet.i18n import short_datetime

    for key in ("pm", "tuphap", "yte", "guest"):
        [note] = kinds_of(cabinet[key], "meeting.changed")
        assert short_datetime(old_start) in note.body and short_datetime(new_start) in note.body
        assert "→" in note.body and short_datetime(new_start) in note.title
    # The newcomer is invited (with the new time) and not told of a change they never saw.
    [invited] = kinds_of(cabinet["outsider"], "meeting.invited")
    assert short_datetime(new_start) in invited.title
    assert kinds_of(cabinet["outsider"], "meeting.changed") == []
    assert kinds_of(cabinet["thuky"], "meeting.changed") == []


def test_a_new_place_says_where_and_an_edit_of_the_description_tells_nobody(cabinet, meeting):
    meetings.update_meeting(cabinet["thuky"], meeting.id, meeting_data(meeting, description="Thêm ghi chú"))
    assert kinds_of(cabinet["pm"], "meeting.changed") == []
    meetings.update_meeting(cabinet["thuky"], meeting.id, meeting_data(meeting, place="Phòng họp số 2"))
    [note] = kinds_of(cabinet["pm"], "meeting.changed")
    assert "Phòng họp Chính phủ, 1 Hoàng Hoa Thám → Phòng họp số 2" in note.body


def test_a_cancellation_reaches_participants_and_their_approved_deputy_with_the_reason(cabinet, meeting):
    member = db.session.scalar(select(Participant).where(Participant.meeting_id == meeting.id,
                                                         Participant.user_id == cabinet["yte"].id))
    member.deputy_id, member.deputy_status = cabinet["thu_truong"].id, "approved"
    db.session.commit()
    meetings.cancel_meeting(cabinet["thuky"], meeting.id, "Lùi sang tuần sau")
    for key in ("pm", "tuphap", "yte", "guest", "thu_truong"):
        [note] = kinds_of(cabinet[key], "meeting.cancelled")
        assert "Lùi sang tuần sau" in note.body and meeting.title in note.title
    assert notifications_of(cabinet["outsider"]) == []


def test_publication_names_only_the_documents_each_reader_is_cleared_for(cabinet, meeting):
    cabinet["thuky"].clearance = "tuyet_mat"
    cabinet["yte"].clearance = "mat"
    db.session.commit()
    thuky = cabinet["thuky"]
    upload(thuky, meeting, title="Tờ trình dự án Luật Đất đai")
    upload(thuky, meeting, title="Báo cáo mật về biên giới", secrecy="mat")
    documents.publish_meeting(thuky, meeting.id)
    [cleared] = kinds_of(cabinet["yte"], "documents.published")
    assert cleared.title.startswith("2 ") and "Báo cáo mật về biên giới" in cleared.body
    [plain] = kinds_of(cabinet["tuphap"], "documents.published")
    assert plain.title.startswith("1 ") and "Tờ trình dự án Luật Đất đai" in plain.body
    assert "biên giới" not in plain.title + plain.body
    assert plain.url.startswith("/documents/")  # a single document: straight to it
    assert notifications_of(cabinet["outsider"]) == []
    assert kinds_of(thuky, "documents.published") == []


def test_a_reader_cleared_for_none_of_a_batch_is_not_told_of_it(cabinet, meeting):
    cabinet["thuky"].clearance = "tuyet_mat"
    cabinet["yte"].clearance = "mat"
    db.session.commit()
    secret = upload(cabinet["thuky"], meeting, title="Phương án tuyệt mật", secrecy="mat")
    documents.publish(cabinet["thuky"], secret.id)
    assert len(kinds_of(cabinet["yte"], "documents.published")) == 1
    assert kinds_of(cabinet["tuphap"], "documents.published") == []
    assert kinds_of(cabinet["pm"], "documents.published") == []


def test_a_recall_tells_those_who_could_read_it_and_a_draft_recall_tells_nobody(cabinet, meeting):
    thuky = cabinet["thuky"]
    document = upload(thuky, meeting, title="Tờ trình cần thu hồi")
    documents.publish(thuky, document.id)
    documents.recall(thuky, document.id, "Tài liệu có sai sót")
    for key in ("pm", "tuphap", "yte", "guest"):
        [note] = kinds_of(cabinet[key], "document.recalled")
        assert "Tờ trình cần thu hồi" in note.title and "Tài liệu có sai sót" in note.body
        assert note.url == f"/meetings/{meeting.id}"
    draft = upload(thuky, meeting, title="Bản nháp")
    documents.recall(thuky, draft.id, "")
    assert len(kinds_of(cabinet["pm"], "document.recalled")) == 1


def remind(now):
    """The periodic job as the consumer runs it (its own app context), with a controlled clock."""
    from cabinet import jobs

    db.session.commit()
    count = jobs.meeting_reminders_tick.call_local(now=now)
    db.session.expire_all()
    return count


def test_the_reminder_goes_once_to_those_who_confirmed_or_did_not_answer(cabinet, meeting):
    meetings.respond(cabinet["tuphap"], meeting.id, attending=True)
    meetings.respond(cabinet["yte"], meeting.id, attending=False, reason="Đi công tác")
    too_early = meeting.starts_at - timedelta(hours=25)
    assert remind(too_early) == 0
    due = meeting.starts_at - timedelta(hours=23, minutes=30)
    assert remind(due) == 4  # pm (no answer), tuphap (confirmed), guest, the secretary
    [confirmed] = kinds_of(cabinet["tuphap"], "meeting.reminder")
    assert "confirmed" in confirmed.body or "xác nhận" in confirmed.body
    [unanswered] = kinds_of(cabinet["pm"], "meeting.reminder")
    assert unanswered.body != confirmed.body and unanswered.url == f"/meetings/{meeting.id}"
    assert kinds_of(cabinet["yte"], "meeting.reminder") == []  # reported absent
    # Again, later, or by a second worker: nothing more.
    assert remind(due) == 0 and remind(due + timedelta(hours=2)) == 0
    assert len(kinds_of(cabinet["pm"], "meeting.reminder")) == 1
    assert db.session.scalar(select(func.count(MeetingReminder.id))) == 4


def test_a_reminder_already_recorded_by_another_worker_is_not_sent_again(cabinet, meeting):
    db.session.add(MeetingReminder(meeting_id=meeting.id, user_id=cabinet["pm"].id,
                                   starts_at=meeting.starts_at))
    db.session.commit()
    remind(meeting.starts_at - timedelta(hours=1))
    assert kinds_of(cabinet["pm"], "meeting.reminder") == []
    assert len(kinds_of(cabinet["tuphap"], "meeting.reminder")) == 1


def test_no_reminder_for_a_cancelled_meeting_or_when_turned_off(app, cabinet, meeting):
    app.config["CABINET_MEETING_REMINDER_HOURS"] = 0
    assert remind(meeting.starts_at - timedelta(hours=1)) == 0
    app.config["CABINET_MEETING_REMINDER_HOURS"] = 24
    meetings.cancel_meeting(cabinet["thuky"], meeting.id, "Hoãn")
    assert remind(meeting.starts_at - timedelta(hours=1)) == 0


def test_a_rescheduled_meeting_is_reminded_again_for_its_new_time(cabinet, meeting):
    assert remind(meeting.starts_at - timedelta(hours=2)) == 5
    later = meeting.starts_at + timedelta(days=2)
    meetings.update_meeting(cabinet["thuky"], meeting.id,
                            meeting_data(meeting, starts_at=later, ends_at=later + timedelta(hours=3)))
    assert remind(later - timedelta(hours=2)) == 5
    assert len(kinds_of(cabinet["pm"], "meeting.reminder")) == 2


def test_a_meeting_invitation_is_pushed_live(app, cabinet):
    client = app.test_client()
    login(client, "bt.tuphap")
    sio = connect(app, client)
    sio.get_received()
    ids = {"thuky": cabinet["thuky"].id, "pm": cabinet["pm"].id, "tuphap": cabinet["tuphap"].id}
    with fresh_context(app):
        users = {k: db.session.get(User, v) for k, v in ids.items()}
        created = schedule(users["thuky"], chair=users["pm"], members=[users["tuphap"]])
        meeting_id = created.id
    [pushed] = new_notifications(sio)
    assert pushed["kind"] == "meeting.invited" and pushed["url"] == f"/meetings/{meeting_id}"
    assert pushed["unread"] == 1 and "Phiên họp Chính phủ" in pushed["title"]
    assert set(pushed) == {"id", "kind", "title", "body", "url", "created_at", "unread"}


# --- e-mail preferences ----------------------------------------------------------------------------------


def test_a_preference_stops_the_email_but_not_the_notification(cabinet):
    with_email(cabinet["tuphap"], cabinet["pm"])
    service.set_preferences(cabinet["tuphap"], {"meetings": False})
    created = schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["tuphap"]])
    [mine] = kinds_of(cabinet["tuphap"], "meeting.invited")
    [theirs] = kinds_of(cabinet["pm"], "meeting.invited")
    assert mine.email_due is False and theirs.email_due is True
    issue(cabinet, recipients=("tuphap",))  # ballots are still on
    [ballot_note] = kinds_of(cabinet["tuphap"], "ballot.issued")
    assert ballot_note.email_due is True
    # A cancellation is mandatory: e-mailed whatever the preference.
    meetings.cancel_meeting(cabinet["thuky"], created.id, "Hoãn")
    [cancelled] = kinds_of(cabinet["tuphap"], "meeting.cancelled")
    assert cancelled.email_due is True


def test_no_email_is_due_for_someone_without_an_address(cabinet, meeting):
    [note] = kinds_of(cabinet["pm"], "meeting.invited")
    assert note.email_due is False


def test_preferences_default_on_and_are_saved_per_user_with_an_audit_entry(client, cabinet):
    login(client, "bt.tuphap")
    page = client.get("/account/notifications").get_data(as_text=True)
    assert page.count('checked') == 4
    token = csrf_token(client, "/account/notifications")
    response = client.post("/account/notifications", data={"csrf_token": token, "documents": "y",
                                                           "ballots": "y", "minutes": "y"})
    assert response.status_code == 302
    assert service.preferences_for(cabinet["tuphap"].id) == {"meetings": False, "documents": True,
                                                             "ballots": True, "minutes": True}
    assert service.preferences_for(cabinet["yte"].id)["meetings"] is True  # nobody else's changed
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "account.notification_preferences"))
    assert entry.actor_id == cabinet["tuphap"].id
    assert entry.details["email"] == {"meetings": [True, False]}
    assert client.get("/account/notifications").get_data(as_text=True).count('checked') == 3


def test_changing_preferences_needs_the_csrf_token_and_a_login(client, cabinet):
    assert client.get("/account/notifications").status_code in (302, 401)
    login(client, "bt.tuphap")
    assert client.post("/account/notifications", data={"documents": "y"}).status_code == 400
    assert service.preferences_for(cabinet["tuphap"].id)["meetings"] is True


# --- the e-mail outbox -----------------------------------------------------------------------------------


from tests.test_jobs import smtp  # noqa: E402,F401  (the local SMTP server fixture)


def test_the_outbox_sends_an_email_whose_job_was_lost_once(app, cabinet, smtp, monkeypatch):  # noqa: F811
    from cabinet import jobs

    with_email(cabinet["tuphap"])

    def queue_down(task):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs.huey, "enqueue", queue_down)
    service.notify([cabinet["tuphap"].id], kind="meeting.invited", title="Giấy mời họp", url="/meetings/1")
    db.session.commit()
    monkeypatch.undo()
    [note] = notifications_of(cabinet["tuphap"])
    assert note.email_due and note.emailed_at is None and smtp.messages == []
    db.session.commit()
    # Too recent: its job may still run.
    assert jobs.requeue_unsent_emails(utcnow() + timedelta(minutes=1)) == []
    assert jobs.requeue_unsent_emails(utcnow() + timedelta(minutes=11)) == [note.id]
    assert smtp.recipients() == ["bt.tuphap@chinhphu.vn"]
    db.session.refresh(note)
    assert note.emailed_at is not None
    assert jobs.requeue_unsent_emails(utcnow() + timedelta(minutes=20)) == []  # sent: never again
    assert len(smtp.messages) == 1


def test_the_outbox_leaves_unwanted_addressless_and_old_notifications_alone(app, cabinet, smtp,  # noqa: F811
                                                                             monkeypatch):
    from cabinet import jobs

    service.set_preferences(cabinet["tuphap"], {"meetings": False})
    with_email(cabinet["tuphap"])
    # Not wanted (tuphap turned meetings off), no address (pm): nothing is due, nothing re-queued.
    service.notify([cabinet["tuphap"].id, cabinet["pm"].id], kind="meeting.invited", title="Không gửi thư")
    db.session.commit()
    assert jobs.requeue_unsent_emails(utcnow() + timedelta(minutes=11)) == []
    service.set_preferences(cabinet["tuphap"], {"meetings": True})
    monkeypatch.setattr(jobs.huey, "enqueue", lambda task: (_ for _ in ()).throw(ConnectionError("down")))
    [old] = service.notify([cabinet["tuphap"].id], kind="meeting.invited", title="Cũ quá")
    db.session.commit()
    monkeypatch.undo()
    old.created_at = utcnow() - timedelta(hours=72)  # past CABINET_EMAIL_OUTBOX_MAX_AGE_HOURS (48)
    db.session.commit()
    assert jobs.requeue_unsent_emails() == []
    assert smtp.messages == []


def test_the_outbox_is_quiet_when_email_is_off(app, cabinet):
    from cabinet import jobs

    with_email(cabinet["tuphap"])
    service.notify([cabinet["tuphap"].id], kind="meeting.invited", title="Giấy mời")
    db.session.commit()
    assert jobs.requeue_unsent_emails(utcnow() + timedelta(minutes=30)) == []


# --- the centre: list by day, filters, panel, home page, API --------------------------------------------


def test_the_list_groups_by_day_filters_unread_and_by_group(client, cabinet, meeting):
    issue(cabinet)
    [invited] = kinds_of(cabinet["tuphap"], "meeting.invited")
    invited.read_at = utcnow()
    db.session.commit()
    login(client, "bt.tuphap")
    page = client.get("/notifications").get_data(as_text=True)
    assert 'class="notif-day"' in page and "tháng" in page  # ngày dd tháng m năm yyyy
    assert meeting.title in page and "45/PLYK-VPCP" in page
    unread_only = client.get("/notifications?unread=1").get_data(as_text=True)
    assert "45/PLYK-VPCP" in unread_only and f"/meetings/{meeting.id}\"" not in unread_only
    meetings_only = client.get("/notifications?group=meetings").get_data(as_text=True)
    assert f'href="/meetings/{meeting.id}"' in meetings_only and "45/PLYK-VPCP" not in meetings_only
    empty = client.get("/notifications?group=minutes").get_data(as_text=True)
    assert 'class="empty"' in empty
    assert client.get("/notifications?group=nope").status_code == 404


def test_the_panel_lists_ones_own_latest_eight(client, cabinet):
    for n in range(10):
        service.notify([cabinet["tuphap"].id], kind="test", title=f"Tin số {n}", url="/")
    service.notify([cabinet["yte"].id], kind="test", title="Của người khác", url="/")
    db.session.commit()
    login(client, "bt.tuphap")
    body = client.get("/notifications/latest").get_json()
    assert body["unread"] == 10 and len(body["notifications"]) == 8
    assert body["notifications"][0]["title"] == "Tin số 9" and body["notifications"][0]["read"] is False
    assert all(n["title"] != "Của người khác" for n in body["notifications"])
    assert client.get("/").status_code == 200
    home = client.get("/").get_data(as_text=True)
    assert 'id="notif-panel"' in home and 'aria-controls="notif-panel"' in home


def test_the_home_page_counts_unread_by_group_and_links_to_the_filtered_list(client, cabinet, meeting):
    issue(cabinet)
    login(client, "bt.tuphap")
    home = client.get("/").get_data(as_text=True)
    for group, count in (("meetings", 1), ("ballots", 1), ("documents", 0), ("minutes", 0)):
        link = home[home.index(f'data-notice-group="{group}"') - 80:]
        assert f"group={group}" in link[:200] and "unread=1" in link[:200]
        assert f'">{count}<span class="sr-only">' in link[:600]


def test_the_api_lists_and_marks_ones_own_notifications(client, cabinet, meeting):
    from tests.conftest import api_token

    issue(cabinet)
    token = api_token(client, "bt.tuphap")
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/notifications", headers=headers).get_json()
    assert body["unread"] == 2 and {n["group"] for n in body["notifications"]} == {"meetings", "ballots"}
    only = client.get("/api/v1/notifications?group=ballots&unread=true", headers=headers).get_json()
    [ballot_note] = only["notifications"]
    marked = client.post(f"/api/v1/notifications/{ballot_note['id']}/read", headers=headers)
    assert marked.status_code == 200 and marked.get_json()["read"] is True
    assert client.get("/api/v1/notifications?unread=true", headers=headers).get_json()["unread"] == 1
    [theirs] = kinds_of(cabinet["pm"], "ballot.issued")
    assert client.post(f"/api/v1/notifications/{theirs.id}/read", headers=headers).status_code == 404
    assert client.get("/api/v1/notifications?unread=maybe", headers=headers).status_code == 422
    assert client.get("/api/v1/notifications").status_code == 401


def test_a_member_taken_off_the_meeting_is_told_and_the_others_are_not(cabinet, meeting):
    assert cabinet["yte"].id in {p.user_id for p in meeting.participants}
    kept = {p.user_id: p.role for p in meeting.participants if p.user_id != cabinet["yte"].id}
    meetings.update_meeting(cabinet["thuky"], meeting.id, meeting_data(meeting, participants=kept))
    [note] = kinds_of(cabinet["yte"], "meeting.removed")
    assert meeting.title in note.title and note.url == "/meetings/"
    assert "không còn" in note.title.lower() or "no longer" in note.title.lower()
    for key in ("pm", "tuphap", "thuky"):
        assert kinds_of(cabinet[key], "meeting.removed") == []


def test_a_deputy_withdrawn_by_the_member_is_told(cabinet, meeting):
    member, deputy = cabinet["tuphap"], cabinet["thu_truong"]
    meetings.respond(member, meeting.id, attending=False, reason="Đi công tác", deputy_id=deputy.id)
    participant = db.session.scalar(select(Participant).where(Participant.meeting_id == meeting.id,
                                                              Participant.user_id == member.id))
    meetings.decide_deputy(cabinet["pm"], meeting.id, participant.id, approve=True)
    assert kinds_of(deputy, "meeting.removed") == []
    meetings.respond(member, meeting.id, attending=True)  # the minister comes after all
    [note] = kinds_of(deputy, "meeting.removed")
    assert meeting.title in note.title
    assert kinds_of(member, "meeting.removed") == []
