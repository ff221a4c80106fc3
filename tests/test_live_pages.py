"""The meeting room's pages: who may open them, and who sees the chair's console."""

from __future__ import annotations

import json
import re

import pytest

from cabinet.live import service
from cabinet.meetings import service as meetings_service
from tests.conftest import login

CONSOLE = 'id="console"'
CONTROLS = ("data-action=", 'id="vote-form"', 'id="conclude-panel"', CONSOLE)


def page(client, username: str, path: str):
    login(client, username)
    return client.get(path)


def initial_state(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="live-initial">(.*?)</script>', html, re.S)
    assert match, "no initial state on the page"
    return json.loads(match.group(1))


def strings(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="live-strings">(.*?)</script>', html, re.S)
    assert match, "no strings on the page"
    return json.loads(match.group(1))


@pytest.mark.parametrize("username", ["bt.tuphap", "khach", "thutuong", "thuky"])
def test_participants_open_the_meeting_room(client, cabinet, room, username):
    response = page(client, username, f"/meetings/{room.id}/live")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert room.title in html
    assert 'src="/static/js/live.js"' in html
    assert f'data-meeting-id="{room.id}"' in html
    assert initial_state(html)["meeting"]["id"] == room.id


def test_an_outsider_gets_404_for_both_pages(client, cabinet, room):
    login(client, "bt.khac")
    assert client.get(f"/meetings/{room.id}/live").status_code == 404
    assert client.get(f"/meetings/{room.id}/projector").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login(client, room):
    for path in (f"/meetings/{room.id}/live", f"/meetings/{room.id}/projector"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_unknown_meeting_is_404(client, cabinet, room):
    login(client, "thuky")
    assert client.get("/meetings/99999/live").status_code == 404


@pytest.mark.parametrize("username", ["thutuong", "thuky"])
def test_the_chair_and_the_secretariat_get_the_console(client, cabinet, room, username):
    html = page(client, username, f"/meetings/{room.id}/live").get_data(as_text=True)
    for marker in CONTROLS[1:]:
        assert marker in html, marker
    assert 'data-can-control="true"' in html
    assert f'href="/meetings/{room.id}/projector"' in html
    assert initial_state(html)["me"]["can_control"] is True


@pytest.mark.parametrize("username", ["bt.tuphap", "khach"])
def test_members_and_guests_get_no_console(client, cabinet, room, username):
    html = page(client, username, f"/meetings/{room.id}/live").get_data(as_text=True)
    for marker in CONTROLS[1:]:
        assert marker not in html, marker
    assert 'data-can-control="false"' in html
    assert "/projector" not in html
    assert initial_state(html)["me"]["can_control"] is False


def test_an_approved_deputy_opens_the_room_without_the_console(client, cabinet, room):
    meetings_service.respond(cabinet["yte"], room.id, attending=False, reason="Công tác",
                             deputy_id=cabinet["thu_truong"].id)
    participant = room.participant_for(cabinet["yte"].id)
    meetings_service.decide_deputy(cabinet["pm"], room.id, participant.id, approve=True)
    html = page(client, "tt.tuphap", f"/meetings/{room.id}/live").get_data(as_text=True)
    assert CONSOLE not in html
    assert initial_state(html)["me"]["can_vote"] is False


def test_the_page_starts_from_the_rooms_state(client, cabinet, room):
    service.open_meeting(cabinet["pm"], room.id)
    second = room.agenda_items[1]
    service.set_current_item(cabinet["pm"], room.id, second.id)
    state = initial_state(page(client, "bt.tuphap", f"/meetings/{room.id}/live").get_data(as_text=True))
    assert state["state"]["phase"] == "open"
    assert state["current_item_id"] == second.id
    assert state["me"]["can_vote"] is True


def test_the_strings_for_the_script_come_translated_from_the_page(client, cabinet, room):
    html = page(client, "bt.tuphap", f"/meetings/{room.id}/live").get_data(as_text=True)
    texts = strings(html)
    assert set(texts["labels"]["options"]) == {"for", "against", "abstain"}
    assert "Tán thành" in texts["labels"]["options"]["for"]
    assert set(texts["labels"]["outcomes"]) >= {"passed", "rejected", "tie", "counted"}
    assert "{present}" in texts["quorum"] and "{required}" in texts["quorum"]


@pytest.mark.parametrize("username", ["thuky", "thutuong", "bt.tuphap", "khach"])
def test_the_projector_shows_no_controls(client, cabinet, room, username):
    response = page(client, username, f"/meetings/{room.id}/projector")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-view="projector"' in html
    assert room.title in html
    for marker in CONTROLS:
        assert marker not in html, marker
    assert "<form" not in html.split("<main", 1)[1]
    # It draws from the room's broadcasts: no copy of the viewer's state in the page.
    assert 'id="live-initial"' not in html


def test_the_pages_have_no_inline_script_or_style(client, cabinet, room):
    login(client, "thuky")
    for path in (f"/meetings/{room.id}/live", f"/meetings/{room.id}/projector"):
        html = client.get(path).get_data(as_text=True)
        for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
            assert "src=" in attributes or 'type="application/json"' in attributes, attributes
            assert "src=" not in attributes or not body.strip()
        assert "<style" not in html
        assert not re.search(r"\sstyle=", html), "inline style attribute"
        assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_the_state_on_the_page_cannot_break_out_of_its_script_block(client, cabinet, room):
    meetings_service.add_item(cabinet["thuky"], room.id, meetings_service.AgendaItemData(
        title="</script><script>alert(1)</script>"))
    html = page(client, "bt.tuphap", f"/meetings/{room.id}/live").get_data(as_text=True)
    assert "</script><script>alert(1)" not in html
    assert any(item["title"] == "</script><script>alert(1)</script>"
               for item in initial_state(html)["agenda"])


def test_the_meeting_page_links_to_the_room(client, cabinet, room):
    html = page(client, "bt.tuphap", f"/meetings/{room.id}").get_data(as_text=True)
    assert f'href="/meetings/{room.id}/live"' in html


def test_the_live_script_and_stylesheet_are_served(client):
    for path, types in (("/static/js/live.js", ("text/javascript", "application/javascript")),
                        ("/static/css/live.css", ("text/css",))):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype in types, path
        response.close()
