"""The meeting API as clients see it: the secretariat schedules, members answer and state positions,
the chair decides; outsiders learn nothing (404), participants cannot do staff work (403).

Every answer these tests receive is also checked against the OpenAPI document: its status must be
documented for the operation and its body must fit the declared schema.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.meetings import service
from cabinet.meetings.models import AgendaChange, AgendaItem, Meeting
from tests.conftest import api_token
from tests.meeting_factories import schedule
from tests.test_openapi import assert_documented_answer

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
HUGE_IDS = [2**31, 10**20]


# --- helpers --------------------------------------------------------------------------------


def _template(document, url: str) -> str | None:
    path = url.split("?", 1)[0]
    for template in document["paths"]:
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path):
            return template
    return None


def check_documented(document, method: str, url: str, response) -> None:
    """The answer's status is documented for the operation, and its body fits (JSON) or its media
    type is the one declared (a PDF)."""
    template = _template(document, url)
    assert template is not None, f"{url} is not in the OpenAPI document"
    declared = document["paths"][template][method.lower()]["responses"].get(str(response.status_code))
    assert declared is not None, f"{method} {template} answered {response.status_code}, not documented"
    content = declared.get("content") or {}
    if content and "application/json" not in content:  # a file, e.g. the PDF
        assert response.mimetype in content
        return
    assert_documented_answer(document, method, template, response)


def api_caller(client, document):
    """``call(username, method, url, json=...)``: call as that user, check the answer is documented."""
    tokens: dict[str, str] = {}

    def call(username: str, method: str, url: str, **kwargs):
        if username not in tokens:
            tokens[username] = api_token(client, username)
        headers = {"Authorization": f"Bearer {tokens[username]}", **kwargs.pop("headers", {})}
        response = client.open(url, method=method, headers=headers, **kwargs)
        check_documented(document, method, url, response)
        return response

    return call


def error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["error"]
    assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "details"}
    return body["error"]


def fields(response) -> set[str]:
    err = error(response, 422)
    problems = err["details"]["fields"]
    assert all(set(p) == {"field", "message"} and p["message"] for p in problems)
    return {p["field"] for p in problems}


def hanoi_time(days: int, hour: int, minute: int = 0) -> str:
    day = (utcnow() + timedelta(days=days)).astimezone(HANOI)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0).isoformat()


def new_meeting_body(cabinet, **changes) -> dict:
    body = {
        "kind": "regular", "title": "Phiên họp Chính phủ thường kỳ tháng Ba",
        "description": "Thảo luận dự án Luật", "starts_at": hanoi_time(20, 8, 30),
        "ends_at": hanoi_time(20, 11, 30), "place": "Phòng họp Chính phủ",
        "participants": [{"user_id": cabinet["pm"].id, "role": "chair"},
                         {"user_id": cabinet["tuphap"].id, "role": "member"},
                         {"user_id": cabinet["yte"].id, "role": "member"},
                         {"user_id": cabinet["thuky"].id, "role": "secretary"},
                         {"user_id": cabinet["guest"].id, "role": "guest"}],
    }
    return body | changes


def add_items(meeting, actor, *titles):
    return [service.add_item(actor, meeting.id, service.AgendaItemData(title=t)) for t in titles]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- scheduling ---------------------------------------------------------------------------


def test_secretariat_schedules_a_meeting_and_only_its_participants_see_it(api, cabinet):
    created = api("thuky", "POST", "/api/v1/meetings", json=new_meeting_body(cabinet))

    assert created.status_code == 201
    body = created.get_json()
    start = datetime.fromisoformat(hanoi_time(20, 8, 30)).astimezone(UTC)
    assert body["starts_at"] == start.isoformat()  # UTC, 08:30 in Hà Nội is 01:30Z
    assert body["starts_at"].endswith("+00:00") and "T01:30:00" in body["starts_at"]
    assert body["chair"] == {"id": cabinet["pm"].id, "full_name": "Phạm Quốc Hưng"}
    assert body["status"] == "scheduled" and body["cancel_reason"] == ""
    assert body["agenda_approved_at"] is None
    assert body["my_role"] == "secretary"
    url = f"/api/v1/meetings/{body['id']}"

    for username, role in [("thutuong", "chair"), ("bt.tuphap", "member"), ("khach", "guest")]:
        assert api(username, "GET", url).get_json() == body | {"my_role": role}
        listed = api(username, "GET", "/api/v1/meetings").get_json()["meetings"]
        assert [m["id"] for m in listed] == [body["id"]]

    assert error(api("bt.khac", "GET", url), 404)["code"] == "not_found"
    assert api("bt.khac", "GET", "/api/v1/meetings").get_json() == {"meetings": []}


def test_staff_who_is_not_a_participant_sees_every_meeting_without_a_role(api, cabinet, meeting,
                                                                         make_user):
    make_user("quantri", role="admin")
    listed = api("quantri", "GET", "/api/v1/meetings").get_json()["meetings"]
    assert [(m["id"], m["my_role"]) for m in listed] == [(meeting.id, None)]


@pytest.mark.parametrize("changes, field", [
    ({"starts_at": "2030-03-05T08:30:00"}, "starts_at"),
    ({"ends_at": "2030-03-05T11:30:00"}, "ends_at"),
    ({"starts_at": 1900000000}, "starts_at"),
    ({"starts_at": "5 March 2030"}, "starts_at"),
    ({"ends_at": "9999-12-31T23:00:00-14:00"}, "ends_at"),
    ({"kind": "party"}, "kind"),
    ({"title": None}, "title"),
    ({"participants": [{"user_id": 1, "role": "king"}]}, "participants.0.role"),
    ({"participants": [{"user_id": "1", "role": "chair"}]}, "participants.0.user_id"),
    ({"participants": "everyone"}, "participants"),
    ({"is_cancelled": True}, "is_cancelled"),
    ({"title": "   "}, "title"),
    ({"place": "", "online_url": ""}, "place"),
    ({"online_url": "javascript:alert(1)"}, "online_url"),
], ids=["naive-start", "naive-end", "number", "words", "overflow", "kind", "null-title", "role",
        "string-id", "not-a-list", "unknown-field", "blank-title", "nowhere", "bad-url"])
def test_invalid_meeting_is_refused_naming_the_field(api, cabinet, changes, field):
    response = api("thuky", "POST", "/api/v1/meetings", json=new_meeting_body(cabinet, **changes))

    assert field in fields(response)
    assert count(Meeting) == 0


def test_service_rules_come_back_as_field_errors(api, cabinet):
    backwards = new_meeting_body(cabinet, starts_at=hanoi_time(20, 11), ends_at=hanoi_time(20, 8))
    assert fields(api("thuky", "POST", "/api/v1/meetings", json=backwards)) == {"ends_at"}

    guest_chair = new_meeting_body(cabinet, participants=[{"user_id": cabinet["guest"].id,
                                                           "role": "chair"}])
    assert "participants" in fields(api("thuky", "POST", "/api/v1/meetings", json=guest_chair))

    twice = new_meeting_body(cabinet)
    twice["participants"].append({"user_id": cabinet["tuphap"].id, "role": "guest"})
    assert fields(api("thuky", "POST", "/api/v1/meetings", json=twice)) == {"participants"}

    ghost = new_meeting_body(cabinet)
    ghost["participants"].append({"user_id": 2**40, "role": "member"})
    assert "participants" in fields(api("thuky", "POST", "/api/v1/meetings", json=ghost))
    assert count(Meeting) == 0


def test_a_member_cannot_schedule_edit_or_cancel(api, cabinet, meeting):
    url = f"/api/v1/meetings/{meeting.id}"
    for method, path, body in [("POST", "/api/v1/meetings", new_meeting_body(cabinet)),
                               ("PATCH", url, {"title": "Đổi tên"}),
                               ("POST", f"{url}/cancel", {"reason": "Không thích"})]:
        assert error(api("bt.tuphap", method, path, json=body), 403)["code"] == "forbidden"
    db.session.refresh(meeting)
    assert (count(Meeting), meeting.title, meeting.status) == (1, "Phiên họp Chính phủ thường kỳ",
                                                              "scheduled")


def test_patch_changes_only_what_is_sent(api, cabinet, meeting):
    service.respond(cabinet["tuphap"], meeting.id, attending=True)
    url = f"/api/v1/meetings/{meeting.id}"
    before = api("thuky", "GET", url).get_json()

    renamed = api("thuky", "PATCH", url, json={"title": "Phiên họp chuyên đề pháp luật",
                                               "kind": "thematic"})
    assert renamed.status_code == 200
    assert renamed.get_json() == before | {"title": "Phiên họp chuyên đề pháp luật", "kind": "thematic"}

    later = api("thuky", "PATCH", url, json={"starts_at": hanoi_time(21, 14),
                                             "ends_at": hanoi_time(21, 16)})
    assert later.get_json()["starts_at"] == datetime.fromisoformat(hanoi_time(21, 14)) \
        .astimezone(UTC).isoformat()

    participants = [{"user_id": cabinet["pm"].id, "role": "chair"},
                    {"user_id": cabinet["tuphap"].id, "role": "member"},
                    {"user_id": cabinet["thuky"].id, "role": "secretary"}]
    assert api("thuky", "PATCH", url, json={"participants": participants}).status_code == 200
    db.session.refresh(meeting)
    assert {p.user_id for p in meeting.participants} == {cabinet["pm"].id, cabinet["tuphap"].id,
                                                         cabinet["thuky"].id}
    assert meeting.participant_for(cabinet["tuphap"].id).attendance == "confirmed"
    assert meeting.title == "Phiên họp chuyên đề pháp luật"
    assert error(api("bt.yte", "GET", url), 404)["code"] == "not_found"  # no longer invited


@pytest.mark.parametrize("body, field", [
    ({"title": None}, "title"),
    ({"place": None}, "place"),
    ({"participants": None}, "participants"),
    ({"starts_at": "2030-03-05T08:30:00"}, "starts_at"),
    ({"ends_at": hanoi_time(5, 1)}, "ends_at"),
    ({"participants": []}, "chair"),
    ({"status": "cancelled"}, "status"),
])
def test_invalid_patch_is_refused_and_nothing_changes(api, meeting, body, field):
    response = api("thuky", "PATCH", f"/api/v1/meetings/{meeting.id}", json=body)

    assert field in fields(response)
    db.session.refresh(meeting)
    assert meeting.ical_sequence == 0 and len(meeting.participants) == 5


def test_cancelling_needs_a_reason_and_freezes_the_meeting(api, cabinet, meeting):
    url = f"/api/v1/meetings/{meeting.id}"
    assert fields(api("thuky", "POST", f"{url}/cancel", json={"reason": "  "})) == {"reason"}
    assert fields(api("thuky", "POST", f"{url}/cancel", json={})) == {"reason"}

    cancelled = api("thuky", "POST", f"{url}/cancel", json={"reason": "Thủ tướng đi công tác"})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["cancel_reason"] == "Thủ tướng đi công tác"
    assert api("bt.tuphap", "GET", url).get_json()["status"] == "cancelled"

    refused = [api("thuky", "PATCH", url, json={"title": "Vẫn họp"}),
               api("thuky", "POST", f"{url}/agenda-items", json={"title": "Mục mới"}),
               api("bt.tuphap", "POST", f"{url}/attendance", json={"attending": True})]
    for response in refused:
        assert error(response, 422)["code"] == "validation_error"
    db.session.refresh(meeting)
    assert meeting.title == "Phiên họp Chính phủ thường kỳ" and not meeting.agenda_items


def test_list_filters_by_time_with_an_offset(api, cabinet, meeting):
    soon = schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["tuphap"]],
                    title="Họp gấp", starts_in=timedelta(days=2))
    cutoff = (utcnow() + timedelta(days=5)).astimezone(HANOI).isoformat().replace("+", "%2B")

    early = api("bt.tuphap", "GET", f"/api/v1/meetings?to={cutoff}").get_json()["meetings"]
    late = api("bt.tuphap", "GET", f"/api/v1/meetings?from={cutoff}").get_json()["meetings"]
    everything = api("bt.tuphap", "GET", "/api/v1/meetings").get_json()["meetings"]

    assert [m["id"] for m in early] == [soon.id]
    assert [m["id"] for m in late] == [meeting.id]
    assert [m["id"] for m in everything] == [soon.id, meeting.id]
    zulu = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(api("bt.tuphap", "GET", f"/api/v1/meetings?from={zulu}").get_json()["meetings"]) == 2


@pytest.mark.parametrize("query, field", [
    ("from=2030-03-05T08:30:00", "from"),
    ("to=tomorrow", "to"),
    ("from=2030-03-05T08:30:00%2B07:00&to=2030-03-05", "to"),
    ("to=0001-01-01T00:00:00%2B01:00", "to"),
])
def test_list_refuses_times_without_an_offset(api, meeting, query, field):
    assert fields(api("bt.tuphap", "GET", f"/api/v1/meetings?{query}")) == {field}


# --- who may see and do what ----------------------------------------------------------------


MEETING_ENDPOINTS = [
    ("GET", "/api/v1/meetings/{m}", None),
    ("PATCH", "/api/v1/meetings/{m}", {"title": "X"}),
    ("POST", "/api/v1/meetings/{m}/cancel", {"reason": "X"}),
    ("GET", "/api/v1/meetings/{m}/participants", None),
    ("POST", "/api/v1/meetings/{m}/attendance", {"attending": True}),
    ("POST", "/api/v1/meetings/{m}/participants/{p}/deputy", {"approve": True}),
    ("GET", "/api/v1/meetings/{m}/agenda-items", None),
    ("POST", "/api/v1/meetings/{m}/agenda-items", {"title": "X"}),
    ("POST", "/api/v1/meetings/{m}/agenda-items/reorder", {"order": []}),
    ("POST", "/api/v1/meetings/{m}/agenda/approve", None),
    ("GET", "/api/v1/agenda-items/{i}", None),
    ("PATCH", "/api/v1/agenda-items/{i}", {"title": "X"}),
    ("DELETE", "/api/v1/agenda-items/{i}", None),
    ("GET", "/api/v1/agenda-items/{i}/positions", None),
    ("PUT", "/api/v1/agenda-items/{i}/positions", {"stance": "agree"}),
    ("POST", "/api/v1/agenda-items/{i}/consent", {"passes_without_debate": True}),
]


# Secretariat-only actions are refused (403) before the meeting is even looked up.
STAFF_FIRST = {"/api/v1/meetings/{m}/cancel", "/api/v1/meetings/{m}/agenda-items/reorder"}


@pytest.mark.parametrize("method, path, body", MEETING_ENDPOINTS)
def test_an_outsider_learns_nothing_about_the_meeting(api, cabinet, meeting, method, path, body):
    [item] = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai (sửa đổi)")
    participant = meeting.participant_for(cabinet["tuphap"].id)
    url = path.format(m=meeting.id, i=item.id, p=participant.id)
    missing = path.format(m=4040, i=4040, p=4040)

    response = api("bt.khac", method, url, json=body)

    staff_first = path in STAFF_FIRST or (method, path) == ("POST", "/api/v1/meetings/{m}/agenda-items")
    expected = 403 if staff_first else 404
    assert error(response, expected)
    assert response.get_json() == api("bt.khac", method, missing, json=body).get_json()
    db.session.refresh(meeting)
    assert meeting.title == "Phiên họp Chính phủ thường kỳ" and meeting.status == "scheduled"
    assert [i.title for i in meeting.agenda_items] == ["Dự án Luật Đất đai (sửa đổi)"]


@pytest.mark.parametrize("method, path, body", MEETING_ENDPOINTS)
@pytest.mark.parametrize("huge", HUGE_IDS)
def test_ids_beyond_the_database_range_are_404(api, meeting, method, path, body, huge):
    url = path.format(m=huge, i=huge, p=huge)
    assert error(api("thuky", method, url, json=body), 404)["code"] == "not_found"


def test_unknown_participant_or_a_participant_without_deputy_is_404(api, cabinet, meeting):
    url = f"/api/v1/meetings/{meeting.id}/participants"
    no_deputy = meeting.participant_for(cabinet["tuphap"].id).id
    for participant_id in (no_deputy, 4040, 2**31):
        response = api("thutuong", "POST", f"{url}/{participant_id}/deputy", json={"approve": True})
        assert error(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/v1/meetings/{m}/agenda-items", {"title": "Mục của Bộ trưởng"}),
    ("PATCH", "/api/v1/agenda-items/{i}", {"title": "Đổi tên"}),
    ("DELETE", "/api/v1/agenda-items/{i}", None),
    ("POST", "/api/v1/meetings/{m}/agenda-items/reorder", {"order": "{order}"}),
    ("POST", "/api/v1/agenda-items/{i}/consent", {"passes_without_debate": True}),
])
@pytest.mark.parametrize("username", ["bt.tuphap", "khach"])
def test_participants_cannot_do_the_secretariats_agenda_work(api, cabinet, meeting, method, path, body,
                                                             username):
    items = add_items(meeting, cabinet["thuky"], "Mục một", "Mục hai")
    if body and body.get("order") == "{order}":
        body = {"order": [items[1].id, items[0].id]}
    url = path.format(m=meeting.id, i=items[0].id)

    assert error(api(username, method, url, json=body), 403)["code"] == "forbidden"
    db.session.refresh(meeting)
    assert [(i.title, i.passes_without_debate) for i in meeting.agenda_items] == [
        ("Mục một", False), ("Mục hai", False)]


# --- participants, attendance, deputies ------------------------------------------------------


def test_absence_reasons_and_deputies_are_shown_only_to_the_chair_the_staff_and_oneself(
        api, cabinet, meeting):
    answer = api("bt.tuphap", "POST", f"/api/v1/meetings/{meeting.id}/attendance",
                 json={"attending": False, "reason": "Đi công tác nước ngoài",
                       "deputy_id": cabinet["thu_truong"].id})
    assert answer.status_code == 200
    mine = answer.get_json()
    assert mine["attendance"] == "absent" and mine["absence_reason"] == "Đi công tác nước ngoài"
    assert mine["deputy"] == {"id": cabinet["thu_truong"].id, "full_name": "Thứ trưởng Tư pháp"}
    assert mine["deputy_status"] == "pending"

    url = f"/api/v1/meetings/{meeting.id}/participants"

    def entry(username):
        listed = api(username, "GET", url).get_json()["participants"]
        return next(p for p in listed if p["user"]["id"] == cabinet["tuphap"].id)

    for username in ("thutuong", "thuky", "bt.tuphap"):
        assert entry(username) == mine, username
    for username in ("bt.yte", "khach"):
        seen = entry(username)
        assert seen["attendance"] == "absent"
        assert seen["absence_reason"] is None and seen["deputy"] is None
        assert seen["deputy_status"] is None
        assert "Đi công tác" not in api(username, "GET", url).get_data(as_text=True)
        assert "Thứ trưởng Tư pháp" not in api(username, "GET", url).get_data(as_text=True)


def test_the_chair_approves_a_deputy_who_then_sees_the_meeting_but_cannot_state_positions(
        api, cabinet, meeting):
    [item] = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai (sửa đổi)")
    api("bt.tuphap", "POST", f"/api/v1/meetings/{meeting.id}/attendance",
        json={"attending": False, "reason": "Ốm", "deputy_id": cabinet["thu_truong"].id})
    participant_id = meeting.participant_for(cabinet["tuphap"].id).id
    decide = f"/api/v1/meetings/{meeting.id}/participants/{participant_id}/deputy"
    assert error(api("tt.tuphap", "GET", f"/api/v1/meetings/{meeting.id}"), 404)

    assert error(api("bt.yte", "POST", decide, json={"approve": True}), 403)["code"] == "forbidden"
    assert fields(api("thutuong", "POST", decide, json={"approve": "yes"})) == {"approve"}
    approved = api("thutuong", "POST", decide, json={"approve": True})
    assert approved.status_code == 200
    assert approved.get_json()["deputy_status"] == "approved"
    assert approved.get_json()["deputy_decided_at"] is not None

    seen = api("tt.tuphap", "GET", f"/api/v1/meetings/{meeting.id}")
    assert seen.status_code == 200 and seen.get_json()["my_role"] == "guest"
    refused = api("tt.tuphap", "PUT", f"/api/v1/agenda-items/{item.id}/positions",
                  json={"stance": "agree"})
    assert error(refused, 403)["code"] == "forbidden"


@pytest.mark.parametrize("body, field", [
    ({"attending": False}, "reason"),
    ({"attending": False, "reason": " "}, "reason"),
    ({"attending": "yes"}, "attending"),
    ({}, "attending"),
    ({"attending": False, "reason": "Ốm", "deputy_id": 2**31}, "deputy_id"),
    ({"attending": False, "reason": "Ốm", "deputy_id": "{yte}"}, "deputy_id"),
    ({"attending": False, "reason": "Ốm", "deputy_id": "{self}"}, "deputy_id"),
])
def test_invalid_answers_are_refused_naming_the_field(api, cabinet, meeting, body, field):
    ids = {"{yte}": cabinet["yte"].id, "{self}": cabinet["tuphap"].id}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    response = api("bt.tuphap", "POST", f"/api/v1/meetings/{meeting.id}/attendance", json=body)

    assert fields(response) == {field}
    db.session.refresh(meeting)
    assert meeting.participant_for(cabinet["tuphap"].id).attendance == "invited"


def test_staff_who_is_not_invited_cannot_answer_for_themself(api, meeting, make_user):
    make_user("quantri", role="admin")
    response = api("quantri", "POST", f"/api/v1/meetings/{meeting.id}/attendance",
                   json={"attending": True})
    assert error(response, 403)["code"] == "forbidden"


def test_a_guest_confirms_attendance(api, cabinet, meeting):
    response = api("khach", "POST", f"/api/v1/meetings/{meeting.id}/attendance",
                   json={"attending": True})
    assert response.get_json()["attendance"] == "confirmed"
    assert response.get_json()["responded_at"] is not None


# --- agenda ---------------------------------------------------------------------------------


def test_secretariat_builds_edits_reorders_and_removes_agenda_items(api, cabinet, meeting):
    url = f"/api/v1/meetings/{meeting.id}/agenda-items"
    created = [api("thuky", "POST", url, json={"title": title, "presenter_organisation": "Bộ Tư pháp",
                                               "minutes": 30}).get_json()
               for title in ("Dự án Luật Đất đai", "Nghị định về đầu tư công", "Báo cáo kinh tế")]
    assert [i["position"] for i in created] == [1, 2, 3]
    assert created[0]["status"] == "planned" and created[0]["minutes"] == 30

    first, second, third = (i["id"] for i in created)
    edited = api("thuky", "PATCH", f"/api/v1/agenda-items/{second}",
                 json={"status": "concluded", "conclusion": "Thống nhất thông qua"})
    assert edited.get_json() == created[1] | {"status": "concluded",
                                              "conclusion": "Thống nhất thông qua"}

    reordered = api("thuky", "POST", f"{url}/reorder", json={"order": [third, first, second]})
    assert [(i["id"], i["position"]) for i in reordered.get_json()["items"]] == [
        (third, 1), (first, 2), (second, 3)]
    assert api("bt.tuphap", "GET", url).get_json() == reordered.get_json()
    assert api("bt.tuphap", "GET", f"/api/v1/agenda-items/{first}").get_json()["position"] == 2

    removed = api("thuky", "DELETE", f"/api/v1/agenda-items/{third}")
    assert removed.status_code == 204 and removed.get_data() == b""
    assert [(i["id"], i["position"]) for i in api("thuky", "GET", url).get_json()["items"]] == [
        (first, 1), (second, 2)]
    assert error(api("thuky", "GET", f"/api/v1/agenda-items/{third}"), 404)


@pytest.mark.parametrize("order", ["missing", "extra", "twice", "other-meeting", "strings", "huge"])
def test_reorder_with_the_wrong_ids_is_refused(api, cabinet, meeting, order):
    first, second = add_items(meeting, cabinet["thuky"], "Mục một", "Mục hai")
    other = schedule(cabinet["thuky"], chair=cabinet["pm"], title="Phiên khác")
    [foreign] = add_items(other, cabinet["thuky"], "Mục của phiên khác")
    body = {"missing": [first.id], "extra": [first.id, second.id, 4040],
            "twice": [first.id, second.id, first.id], "other-meeting": [second.id, foreign.id],
            "strings": [str(second.id), str(first.id)], "huge": [second.id, 2**63]}[order]

    response = api("thuky", "POST", f"/api/v1/meetings/{meeting.id}/agenda-items/reorder",
                   json={"order": body})

    assert fields(response) <= {"order", "order.0", "order.1"} and fields(response)
    db.session.refresh(meeting)
    assert [i.id for i in meeting.agenda_items] == [first.id, second.id]


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/api/v1/meetings/{m}/agenda-items", {"title": " "}, "title"),
    ("POST", "/api/v1/meetings/{m}/agenda-items", {}, "title"),
    ("POST", "/api/v1/meetings/{m}/agenda-items", {"title": "X", "minutes": 601}, "minutes"),
    ("POST", "/api/v1/meetings/{m}/agenda-items", {"title": "X", "minutes": "15"}, "minutes"),
    ("POST", "/api/v1/meetings/{m}/agenda-items", {"title": "X", "minutes": 10**30}, "minutes"),
    ("PATCH", "/api/v1/agenda-items/{i}", {"status": "done"}, "status"),
    ("PATCH", "/api/v1/agenda-items/{i}", {"title": None}, "title"),
    ("PATCH", "/api/v1/agenda-items/{i}", {"minutes": -1}, "minutes"),
    ("PATCH", "/api/v1/agenda-items/{i}", {"meeting_id": 1}, "meeting_id"),
])
def test_invalid_agenda_items_are_refused_naming_the_field(api, cabinet, meeting, method, path, body,
                                                          field):
    [item] = add_items(meeting, cabinet["thuky"], "Mục một")
    response = api("thuky", method, path.format(m=meeting.id, i=item.id), json=body)

    assert fields(response) == {field}
    db.session.refresh(item)
    assert (count(AgendaItem), item.title, item.minutes, item.status) == (1, "Mục một", 15, "planned")


def test_only_the_chair_approves_the_agenda_once_and_later_changes_are_tracked(api, cabinet, meeting):
    url = f"/api/v1/meetings/{meeting.id}/agenda/approve"
    assert error(api("thutuong", "POST", url), 422)["code"] == "validation_error"  # empty agenda
    [item] = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai")

    for username in ("thuky", "bt.tuphap"):
        assert error(api(username, "POST", url), 403)["code"] == "forbidden"
    approved = api("thutuong", "POST", url)
    assert approved.status_code == 200
    assert approved.get_json()["agenda_approved_at"] is not None
    assert error(api("thutuong", "POST", url), 409)["code"] == "conflict"

    api("thuky", "PATCH", f"/api/v1/agenda-items/{item.id}", json={"minutes": 45})
    assert db.session.scalar(select(AgendaChange.action)) == "edited"


# --- positions (D9) -------------------------------------------------------------------------


def test_members_state_positions_and_the_chair_sees_the_board(api, cabinet, meeting):
    first, second = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai", "Nghị định đầu tư")
    url = f"/api/v1/agenda-items/{first.id}/positions"

    stated = api("bt.tuphap", "PUT", url, json={"stance": "agree"})
    assert stated.status_code == 200
    assert stated.get_json() | {"updated_at": None} == {
        "item_id": first.id, "user": {"id": cabinet["tuphap"].id, "full_name": "Phan Thị Ngọc Diệp"},
        "stance": "agree", "comment": "", "updated_at": None}
    changed = api("bt.tuphap", "PUT", url, json={"stance": "comment", "comment": "Bổ sung Điều 5"})
    assert changed.get_json()["stance"] == "comment"

    mine = api("bt.tuphap", "GET", url).get_json()
    assert mine["mine"] == changed.get_json() and mine["board"] is None
    assert api("bt.yte", "GET", url).get_json() == {"item_id": first.id, "mine": None, "board": None}
    assert api("khach", "GET", url).get_json()["board"] is None

    api("bt.yte", "PUT", url, json={"stance": "debate"})
    for username in ("thutuong", "thuky"):
        board = api(username, "GET", url).get_json()["board"]
        assert board["counts"] == {"agree": 0, "comment": 1, "debate": 1}
        assert board["contested"] is True
        assert {p["user"]["id"]: p["comment"] for p in board["positions"]} == {
            cabinet["tuphap"].id: "Bổ sung Điều 5", cabinet["yte"].id: ""}
        assert board["missing"] == [{"id": cabinet["pm"].id, "full_name": "Phạm Quốc Hưng"}]

    consent = f"/api/v1/agenda-items/{first.id}/consent"
    assert error(api("thutuong", "POST", consent, json={"passes_without_debate": True}), 422)
    api("bt.tuphap", "PUT", f"/api/v1/agenda-items/{second.id}/positions", json={"stance": "agree"})
    marked = api("thutuong", "POST", f"/api/v1/agenda-items/{second.id}/consent",
                 json={"passes_without_debate": True})
    assert marked.get_json()["passes_without_debate"] is True
    unmarked = api("thuky", "POST", f"/api/v1/agenda-items/{second.id}/consent",
                   json={"passes_without_debate": False})
    assert unmarked.get_json()["passes_without_debate"] is False


@pytest.mark.parametrize("username", ["khach", "thuky"])
def test_guests_and_secretaries_cannot_state_positions(api, cabinet, meeting, username):
    [item] = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai")
    response = api(username, "PUT", f"/api/v1/agenda-items/{item.id}/positions",
                   json={"stance": "agree"})
    assert error(response, 403)["code"] == "forbidden"
    assert item.positions == []


@pytest.mark.parametrize("body, field", [
    ({"stance": "comment"}, "comment"),
    ({"stance": "comment", "comment": "  "}, "comment"),
    ({"stance": "maybe"}, "stance"),
    ({}, "stance"),
    ({"stance": "agree", "comment": 5}, "comment"),
])
def test_invalid_positions_are_refused_naming_the_field(api, cabinet, meeting, body, field):
    [item] = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai")
    response = api("bt.tuphap", "PUT", f"/api/v1/agenda-items/{item.id}/positions", json=body)
    assert fields(response) == {field}


def test_positions_close_when_the_meeting_starts(api, cabinet, meeting):
    [item] = add_items(meeting, cabinet["thuky"], "Dự án Luật Đất đai")
    meeting.starts_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = api("bt.tuphap", "PUT", f"/api/v1/agenda-items/{item.id}/positions",
                   json={"stance": "agree"})
    assert error(response, 422)["code"] == "validation_error"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/meetings"), ("PATCH", "/api/v1/meetings/{m}"),
    ("POST", "/api/v1/meetings/{m}/cancel"), ("POST", "/api/v1/meetings/{m}/attendance"),
    ("POST", "/api/v1/meetings/{m}/agenda-items"), ("POST", "/api/v1/meetings/{m}/agenda-items/reorder"),
])
@pytest.mark.parametrize("data, status, code", [
    ("title=x", 400, "not_json"),
    ('{"title": ', 400, "invalid_json"),
    ("[]", 422, "validation_error"),
    ('{"title": "a\\u0000b", "reason": "a\\u0000b"}', 422, "validation_error"),
])
def test_bodies_that_are_not_json_objects_are_refused_cleanly(api, meeting, method, path, data,
                                                             status, code):
    content_type = "application/x-www-form-urlencoded" if data == "title=x" else "application/json"
    response = api("thuky", method, path.format(m=meeting.id), data=data,
                   headers={"Content-Type": content_type})
    assert error(response, status)["code"] == code
