"""Someone taken off a meeting stops hearing its room at once: their open tablets leave the
meeting's Socket.IO room (in every worker process) and are told ``meeting.removed``; the removal
is in the audit trail; put back on the list, they join again like anyone else."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.extensions import db, socketio
from cabinet.live import events
from cabinet.live import service as live
from cabinet.meetings import service as meetings
from cabinet.meetings.models import Meeting
from tests.cluster import (  # noqa: F401  (fixtures)
    Api,
    app,
    cluster,
    needs_postgres,
    redis_server,
    scratch_postgres,
)
from tests.live_server import live_server  # noqa: F401  (fixture)
from tests.meeting_factories import schedule
from tests.test_live_server import build_room, join_all
from tests.test_live_socket import tablet  # noqa: F401  (fixture)


def _edit_participants(actor, meeting_id: int, *, drop=(), add=None) -> None:
    """The secretariat edits the list of participants (the meeting's form and the API do this)."""
    meeting = db.session.get(Meeting, meeting_id)
    wanted = {p.user_id: p.role for p in meeting.participants if p.user_id not in {u.id for u in drop}}
    wanted.update({u.id: role for u, role in (add or {}).items()})
    meetings.update_meeting(actor, meeting_id, meetings.MeetingData(
        title=meeting.title, starts_at=meeting.starts_at, ends_at=meeting.ends_at, kind=meeting.kind,
        description=meeting.description, place=meeting.place, online_url=meeting.online_url,
        participants=wanted))


def _open_vote(cabinet, meeting_id: int, question: str) -> int:
    return live.open_vote(cabinet["pm"], meeting_id, question=question).id


def _questions(tablet) -> list[str]:  # noqa: F811
    return [payload["question"] for payload in tablet.events("vote.opened")]


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.seq)))


def test_a_member_taken_off_the_meeting_hears_nothing_more_while_the_others_do(cabinet, room, tablet):  # noqa: F811
    live.open_meeting(cabinet["pm"], room.id)
    kept, removed = tablet("bt.tuphap"), tablet("bt.yte")
    assert kept.join(room.id)["ok"] and removed.join(room.id)["ok"]
    kept.received(), removed.received()

    _edit_participants(cabinet["thuky"], room.id, drop=[cabinet["yte"]])

    assert removed.events("meeting.removed") == [{"meeting_id": room.id}]
    _open_vote(cabinet, room.id, "Thông qua dự án Luật Đất đai?")
    assert _questions(kept) == ["Thông qua dự án Luật Đất đai?"]
    assert removed.received() == []  # neither the vote nor anything else of the room
    again = removed.join(room.id)
    assert again["ok"] is False and again["error"]["code"] == "not_found"

    updated = _entries("meeting.updated")[-1]
    assert updated.actor_id == cabinet["thuky"].id and updated.object_id == str(room.id)
    assert updated.details["changes"]["participants"]["removed"] == [cabinet["yte"].id]
    assert updated.details["access_withdrawn"] == [cabinet["yte"].id]


def test_a_member_put_back_on_the_list_joins_again_and_hears_the_room(cabinet, room, tablet):  # noqa: F811
    member = tablet("bt.yte")
    assert member.join(room.id)["ok"]
    _edit_participants(cabinet["thuky"], room.id, drop=[cabinet["yte"]])
    _edit_participants(cabinet["thuky"], room.id, add={cabinet["yte"]: "member"})
    member.received()

    assert member.join(room.id)["ok"]
    live.open_meeting(cabinet["pm"], room.id)
    _open_vote(cabinet, room.id, "Thông qua Nghị quyết?")
    assert _questions(member) == ["Thông qua Nghị quyết?"]
    assert "access_withdrawn" not in _entries("meeting.updated")[-1].details


def test_a_deputy_withdrawn_by_the_member_leaves_the_room(cabinet, room, tablet):  # noqa: F811
    member, deputy = cabinet["tuphap"], cabinet["thu_truong"]
    meetings.respond(member, room.id, attending=False, reason="Đi công tác", deputy_id=deputy.id)
    participant = db.session.get(Meeting, room.id).participant_for(member.id)
    meetings.decide_deputy(cabinet["pm"], room.id, participant.id, approve=True)
    live.open_meeting(cabinet["pm"], room.id)
    on_deputy, chair = tablet("tt.tuphap"), tablet("thutuong")
    assert on_deputy.join(room.id)["ok"] and chair.join(room.id)["ok"]
    on_deputy.received()

    meetings.respond(member, room.id, attending=True)  # the minister comes after all

    assert on_deputy.events("meeting.removed") == [{"meeting_id": room.id}]
    _open_vote(cabinet, room.id, "Thông qua dự án Luật Đất đai?")
    assert on_deputy.received() == []
    assert _questions(chair) == ["Thông qua dự án Luật Đất đai?"]
    assert _entries("meeting.attendance")[-1].details["access_withdrawn"] == [deputy.id]


def test_an_approved_deputy_then_rejected_leaves_the_room(cabinet, room, tablet):  # noqa: F811
    member, deputy = cabinet["tuphap"], cabinet["thu_truong"]
    meetings.respond(member, room.id, attending=False, reason="Đi công tác", deputy_id=deputy.id)
    participant_id = db.session.get(Meeting, room.id).participant_for(member.id).id
    meetings.decide_deputy(cabinet["pm"], room.id, participant_id, approve=True)
    on_deputy = tablet("tt.tuphap")
    assert on_deputy.join(room.id)["ok"]
    on_deputy.received()

    meetings.decide_deputy(cabinet["pm"], room.id, participant_id, approve=False)

    assert on_deputy.events("meeting.removed") == [{"meeting_id": room.id}]
    live.open_meeting(cabinet["pm"], room.id)
    assert on_deputy.received() == []
    rejected = _entries("meeting.deputy_rejected")[-1]
    assert rejected.details["access_withdrawn"] == [deputy.id]


def test_the_secretariat_taken_off_the_list_still_follows_the_room(cabinet, room, tablet):  # noqa: F811
    """The secretariat sees every meeting: dropping the secretary from the list closes nothing."""
    secretary = tablet("thuky")
    assert secretary.join(room.id)["ok"]
    secretary.received()
    _edit_participants(cabinet["thuky"], room.id, drop=[cabinet["thuky"]])
    live.open_meeting(cabinet["pm"], room.id)
    assert secretary.events("meeting.removed") == []
    _open_vote(cabinet, room.id, "Thông qua?")
    assert _questions(secretary) == ["Thông qua?"]


def test_the_removal_reaches_only_the_removed_users_tablets_of_that_meeting(cabinet, room, tablet):  # noqa: F811
    """Another meeting's room, and another user's membership, are untouched."""
    other = schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["yte"]],
                     title="Phiên họp chuyên đề", starts_in=timedelta(minutes=20))
    member = tablet("bt.yte")
    assert member.join(room.id)["ok"] and member.join(other.id)["ok"]
    _edit_participants(cabinet["thuky"], room.id, drop=[cabinet["yte"]])
    member.received()

    live.open_meeting(cabinet["pm"], other.id)
    live.open_meeting(cabinet["pm"], room.id)
    heard = {payload["meeting_id"] for name, payload in member.received() if name == "meeting.state"}
    assert heard == {other.id}


def test_closing_an_ordinary_room_takes_nobody_out_of_a_meeting(app, cabinet, room, tablet):  # noqa: F811
    member = tablet("bt.yte")
    assert member.join(room.id)["ok"]
    manager = socketio.server.manager
    assert events.leave_with_member_room(manager, f"meeting:{room.id}") == 0
    assert events.leave_with_member_room(manager, events.user_room(cabinet["yte"].id)) == 0
    assert events.leave_with_member_room(manager, "meeting:x:user:1") == 0
    member.received()
    live.open_meeting(cabinet["pm"], room.id)
    assert [name for name, _payload in member.received()].count("meeting.state") == 1


# --- across worker processes (Redis) --------------------------------------------------------------


def test_a_member_removed_through_worker_a_stops_hearing_the_room_on_worker_b(
        needs_postgres, cabinet, make_user, cluster, redis_server):  # noqa: F811
    room = build_room(cabinet, make_user)
    cluster.redis = redis_server
    worker_a, worker_b = cluster.start(servers=2)
    removed = cluster.tablet(worker_b, room.tokens["bt.yte"], "removed member on B")
    kept = cluster.tablet(worker_b, room.tokens["bt.tuphap"], "member on B")
    kept_on_a = cluster.tablet(worker_a, room.tokens["thutuong"], "chair on A")
    join_all([removed, kept, kept_on_a], room.meeting_id)

    secretariat = Api(worker_a, room.tokens["thuky"])
    listed = secretariat("GET", f"/meetings/{room.meeting_id}/participants").json()["participants"]
    staying = [{"user_id": p["user"]["id"], "role": p["role"]} for p in listed
               if p["user"]["id"] != room.user_ids["bt.yte"]]
    edited = secretariat("PATCH", f"/meetings/{room.meeting_id}", json={"participants": staying})
    assert edited.status_code == 200, edited.text
    assert removed.wait_for("meeting.removed") == {"meeting_id": room.meeting_id}

    opened = Api(worker_a, room.tokens["thutuong"])("POST", f"/meetings/{room.meeting_id}/votes",
                                                     json={"question": "Thông qua dự án Luật?"})
    assert opened.status_code == 201, opened.text
    assert kept.wait_for("vote.opened")["question"] == "Thông qua dự án Luật?"
    assert kept_on_a.wait_for("vote.opened")["question"] == "Thông qua dự án Luật?"
    removed.sync()
    assert removed.events("vote.opened") == []


# --- what the removed person sees -------------------------------------------------------------------


def test_the_room_page_of_a_removed_member_says_so_and_stops(app, cabinet, room, live_server):  # noqa: F811
    import requests
    from playwright.sync_api import expect

    from cabinet.auth import service as auth_service
    from tests.browser import browser_session

    # Read everything before the server starts (tests/live_server.py: SQLite's write lock).
    meeting_id, removed_id = room.id, cabinet["yte"].id
    staying = [{"user_id": p.user_id, "role": p.role} for p in room.participants if p.user_id != removed_id]
    token = auth_service.issue_token(cabinet["thuky"], label="test")[0]
    db.session.commit()
    server = live_server(app)
    with browser_session("room-removal", server) as session:
        member = session.page(server.url, "bt.yte", f"/meetings/{meeting_id}/live")
        member.wait_for_selector("#live-room[data-joined=true]")

        edited = requests.patch(f"{server.url}/api/v1/meetings/{meeting_id}", json={"participants": staying},
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert edited.status_code == 200, edited.text

        member.wait_for_selector("#live-room[data-removed=true]")
        # The page's own words (translated), from the strings the room script reads.
        removed = json.loads(member.locator("#live-strings").text_content())["removed"]
        expect(member.locator("#live-feedback")).to_have_text(removed)
        assert member.locator("#live-room[data-joined]").count() == 0
        assert member.locator("#live-room button:enabled").count() == 0
        assert session.errors == []
