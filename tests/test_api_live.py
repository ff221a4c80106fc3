"""The meeting room through the JSON API: votes and attendance, each answer checked against the
OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cabinet.live import service as live
from tests.meeting_factories import ROOM_ITEMS, room_meeting
from tests.test_api_meetings import error, fields


@pytest.fixture
def room(cabinet):
    meeting = room_meeting(cabinet, items=ROOM_ITEMS[:1], starts_in=timedelta(minutes=20))
    live.open_meeting(cabinet["pm"], meeting.id)
    return meeting


def test_members_check_in_and_everyone_sees_the_quorum(api, cabinet, room):
    answer = api("thutuong", "POST", f"/api/v1/meetings/{room.id}/check-ins", json={})
    assert answer.status_code == 200
    body = api("bt.tuphap", "POST", f"/api/v1/meetings/{room.id}/check-ins", json={}).get_json()
    assert (body["present"], body["required"], body["quorum_met"]) == (2, 2, True)
    assert "Điều 46" in body["quorum_basis"]
    seen = api("khach", "GET", f"/api/v1/meetings/{room.id}/attendance").get_json()
    present = {p["user"]["full_name"] for p in seen["people"] if p["present"]}
    assert present == {"Phạm Quốc Hưng", "Phan Thị Ngọc Diệp"}


def test_attendance_is_refused_to_outsiders_and_marking_others_to_members(api, cabinet, room):
    error(api("bt.khac", "GET", f"/api/v1/meetings/{room.id}/attendance"), 404)
    denied = api("bt.tuphap", "POST", f"/api/v1/meetings/{room.id}/check-ins",
                 json={"user_id": cabinet["yte"].id})
    error(denied, 403)
    assert "user_id" in fields(api("thuky", "POST", f"/api/v1/meetings/{room.id}/check-ins",
                                   json={"user_id": "3"}))
    recorded = api("thuky", "POST", f"/api/v1/meetings/{room.id}/check-ins",
                   json={"user_id": cabinet["yte"].id}).get_json()
    assert recorded["present"] == 1


def test_a_vote_through_the_api_from_opening_to_result(api, cabinet, room):
    for username in ("thutuong", "bt.tuphap", "bt.yte"):
        api(username, "POST", f"/api/v1/meetings/{room.id}/check-ins", json={})
    error(api("bt.tuphap", "POST", f"/api/v1/meetings/{room.id}/votes", json={"question": "?"}), 403)
    opened = api("thuky", "POST", f"/api/v1/meetings/{room.id}/votes",
                 json={"question": "Thông qua dự án Luật Đất đai (sửa đổi)?",
                       "agenda_item_id": room.agenda_items[0].id})
    assert opened.status_code == 201
    vote = opened.get_json()
    assert [o["key"] for o in vote["options"]] == ["for", "against", "abstain"]
    assert vote["eligible"] == 3 and vote["me"]["can_vote"] is False
    url = f"/api/v1/votes/{vote['id']}"
    assert api("thutuong", "POST", f"{url}/cast", json={"choice": "for"}).get_json()["changed"] is False
    api("bt.tuphap", "POST", f"{url}/cast", json={"choice": "against"})
    assert api("bt.tuphap", "POST", f"{url}/cast", json={"choice": "for"}).get_json()["changed"] is True
    error(api("khach", "POST", f"{url}/cast", json={"choice": "for"}), 403)
    assert "choice" in fields(api("bt.yte", "POST", f"{url}/cast", json={"choice": "yes"}))
    assert "choice" in fields(api("bt.yte", "POST", f"{url}/cast", json={}))
    state = api("bt.yte", "GET", url).get_json()
    assert state["tally"]["counts"] == {"for": 2, "against": 0, "abstain": 0}
    assert state["me"] == {"can_vote": True, "voted": False, "choice": None}
    error(api("bt.tuphap", "POST", f"{url}/close"), 403)
    closed = api("thutuong", "POST", f"{url}/close").get_json()
    assert closed["outcome"] == "passed" and closed["result"]["threshold"] == 2
    assert "Điều 45" in closed["result"]["basis"]
    late = error(api("bt.yte", "POST", f"{url}/cast", json={"choice": "against"}), 409)
    assert late["code"] == "vote_closed"
    listed = api("khach", "GET", f"/api/v1/meetings/{room.id}/votes").get_json()["votes"]
    assert [v["outcome"] for v in listed] == ["passed"]


def test_a_secret_vote_through_the_api_shows_only_how_many_voted(api, cabinet, room):
    for username in ("thutuong", "bt.tuphap"):
        api(username, "POST", f"/api/v1/meetings/{room.id}/check-ins", json={})
    vote = api("thutuong", "POST", f"/api/v1/meetings/{room.id}/votes",
               json={"question": "Bỏ phiếu kín", "secret": True}).get_json()
    url = f"/api/v1/votes/{vote['id']}"
    cast = api("bt.tuphap", "POST", f"{url}/cast", json={"choice": "against"}).get_json()
    assert cast["receipt"]
    state = api("thutuong", "GET", url).get_json()
    assert state["tally"]["cast"] == 1 and state["tally"]["counts"] is None
    assert state["tally"]["ballots"] is None
    mine = api("bt.tuphap", "GET", url).get_json()["me"]
    assert mine["voted"] is True and mine["choice"] is None
    again = error(api("bt.tuphap", "POST", f"{url}/cast", json={"choice": "for"}), 409)
    assert again["code"] == "already_voted"
    api("bt.tuphap", "POST", f"{url}/cast", json={"choice": "for", "receipt": cast["receipt"]})
    closed = api("thutuong", "POST", f"{url}/close").get_json()
    assert closed["tally"]["counts"] == {"for": 1, "against": 0, "abstain": 0}


def test_unknown_votes_are_not_found(api, cabinet, room):
    for vote_id in (999, 2**31):
        error(api("thutuong", "GET", f"/api/v1/votes/{vote_id}"), 404)
    vote = api("thutuong", "POST", f"/api/v1/meetings/{room.id}/votes", json={"question": "Q"}).get_json()
    error(api("bt.khac", "GET", f"/api/v1/votes/{vote['id']}"), 404)
    error(api("bt.khac", "POST", f"/api/v1/votes/{vote['id']}/cast", json={"choice": "for"}), 404)
