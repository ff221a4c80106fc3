"""Notifications: issuing a ballot tells every recipient, live on their sockets and in their list;
each user sees and marks only their own; nothing goes out for a transaction that rolled back."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select

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

