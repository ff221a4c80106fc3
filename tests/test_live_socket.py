"""The meeting room over Socket.IO: joining (and re-joining after a lost connection) gives the
whole state, broadcasts reach the room's participants and nobody else, and every event is
acknowledged, errors included."""

from __future__ import annotations

import contextlib
import io

import pytest

from cabinet.documents import service as documents_service
from cabinet.extensions import db, socketio
from cabinet.live import service
from tests.conftest import login
from tests.meeting_factories import ROOM_ITEMS
from tests.test_documents import blank_pdf, published

ITEMS = ROOM_ITEMS


@contextlib.contextmanager
def fresh_context(app):
    """Socket handlers, like requests, must not share the test's app context (and its g)."""
    db.session.commit()
    with app.app_context():
        yield


class Tablet:
    """One logged-in browser with its socket: what a member's tablet is to the server."""

    def __init__(self, app, username: str):
        self.app = app
        self.client = app.test_client()
        login(self.client, username)
        with fresh_context(app):
            self.sio = socketio.test_client(app, flask_test_client=self.client)
        assert self.sio.is_connected(), username

    def reconnect(self) -> None:
        """A new connection of the same browser (a socket never outlives a lost Wi-Fi)."""
        with fresh_context(self.app):
            if self.sio.is_connected():
                self.sio.disconnect()
            self.sio = socketio.test_client(self.app, flask_test_client=self.client)
        assert self.sio.is_connected()

    def emit(self, event: str, data=None):
        with fresh_context(self.app):
            if data is None:
                return self.sio.emit(event, callback=True)
            return self.sio.emit(event, data, callback=True)

    def join(self, meeting_id: int) -> dict:
        return self.emit("meeting.join", {"meeting_id": meeting_id})

    def received(self) -> list[tuple[str, dict]]:
        return [(m["name"], m["args"][0] if m["args"] else None) for m in self.sio.get_received()]

    def events(self, name: str) -> list[dict]:
        return [payload for event, payload in self.received() if event == name]


@pytest.fixture
def tablet(app):
    return lambda username: Tablet(app, username)


def in_session(cabinet, meeting, *present: str):
    service.open_meeting(cabinet["pm"], meeting.id)
    for key in present:
        service.check_in(cabinet[key], meeting.id)


# --- joining -----------------------------------------------------------------------------------------


def test_an_uninvited_user_is_refused_and_hears_nothing_of_the_room(cabinet, room, tablet):
    outsider, member = tablet("bt.khac"), tablet("bt.tuphap")
    ack = outsider.join(room.id)
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    assert "state" not in ack
    assert member.join(room.id)["ok"]
    for device in (outsider, member):
        device.received()  # forget what came before

    in_session(cabinet, room, "pm", "tuphap")
    service.set_current_item(cabinet["pm"], room.id, room.agenda_items[0].id)
    service.request_floor(cabinet["tuphap"], room.id)
    vote = service.open_vote(cabinet["pm"], room.id, question="Thông qua dự án Luật")
    service.cast_vote(cabinet["tuphap"], vote.id, "for")
    service.close_vote(cabinet["pm"], vote.id)

    heard = {name for name, _payload in member.received()}
    assert {"meeting.state", "attendance.changed", "agenda.current", "speaker.queue", "vote.opened",
            "vote.tally", "vote.closed"} <= heard
    assert outsider.received() == []


def test_a_participants_join_gives_the_whole_state(cabinet, room, tablet):
    land, budget = room.agenda_items
    in_session(cabinet, room, "pm", "tuphap")
    service.set_current_item(cabinet["pm"], room.id, budget.id)
    service.request_floor(cabinet["yte"], room.id)
    vote = service.open_vote(cabinet["pm"], room.id, question="Thông qua Nghị quyết")
    service.cast_vote(cabinet["tuphap"], vote.id, "for")
    document = published(cabinet["thuky"], room, title="Tờ trình Nghị quyết", agenda_item_id=budget.id)
    draft_id = documents_service.upload_document(
        cabinet["thuky"], room.id, title="Bản nháp", doc_type="to_trinh", secrecy="none", urgency="none",
        agenda_item_id=None, stream=io.BytesIO(blank_pdf()), filename="nhap.pdf").id

    ack = tablet("bt.tuphap").join(room.id)
    assert ack["ok"] is True
    state = ack["state"]
    assert state["meeting"]["id"] == room.id and state["meeting"]["title"] == room.title
    assert state["state"]["phase"] == "open"
    assert state["current_item_id"] == budget.id
    assert [item["title"] for item in state["agenda"]] == list(ITEMS)
    assert state["me"] == {"id": cabinet["tuphap"].id, "full_name": cabinet["tuphap"].full_name,
                           "role": "member", "can_control": False, "can_vote": True}
    attendance = state["attendance"]
    assert (attendance["present"], attendance["required"], attendance["voters"]) == (2, 2, 3)
    assert attendance["quorum_met"] is True and "Điều 46" in attendance["quorum_basis"]
    present = {p["user"]["id"] for p in attendance["people"] if p["present"]}
    assert present == {cabinet["pm"].id, cabinet["tuphap"].id}
    assert state["speakers"]["speaking"] is None
    assert [r["user"]["id"] for r in state["speakers"]["waiting"]] == [cabinet["yte"].id]
    assert state["speakers"]["server_time"]
    open_vote = state["open_vote"]
    assert open_vote["id"] == vote.id and open_vote["agenda_item_id"] == budget.id
    assert [o["key"] for o in open_vote["options"]] == ["for", "against", "abstain"]
    assert open_vote["tally"]["cast"] == 1 and open_vote["tally"]["counts"]["for"] == 1
    assert open_vote["me"] == {"can_vote": True, "voted": True, "choice": "for"}
    assert state["votes"] == []
    documents = {d["id"]: d for d in state["documents"]}
    assert document.id in documents and draft_id not in documents
    assert documents[document.id]["agenda_item_id"] == budget.id
    assert land.id != state["current_item_id"]


def test_the_chair_and_the_secretariat_may_control_a_guest_may_not_vote(cabinet, room, tablet):
    assert tablet("thutuong").join(room.id)["state"]["me"]["can_control"] is True
    staff = tablet("thuky").join(room.id)["state"]["me"]
    assert staff["can_control"] is True and staff["can_vote"] is False
    guest = tablet("khach").join(room.id)["state"]["me"]
    assert guest["can_control"] is False and guest["can_vote"] is False


def test_rejoining_after_a_lost_connection_gives_the_new_state(app, cabinet, room, tablet):
    member = tablet("bt.tuphap")
    first = member.join(room.id)["state"]
    assert first["state"]["phase"] == "not_started" and first["current_item_id"] is None
    with fresh_context(app):
        member.sio.disconnect()

    # While the tablet is away: the meeting opens, item 2 goes on the table, a vote opens.
    in_session(cabinet, room, "pm", "tuphap")
    second = room.agenda_items[1]
    service.set_current_item(cabinet["pm"], room.id, second.id)
    vote = service.open_vote(cabinet["pm"], room.id, question="Thông qua Nghị quyết")

    member.reconnect()
    assert member.received() == []  # a new socket is in no meeting's room until it joins
    again = member.join(room.id)
    assert again["ok"]
    state = again["state"]
    assert state["state"]["phase"] == "open"
    assert state["current_item_id"] == second.id
    assert state["open_vote"]["id"] == vote.id
    assert state["attendance"]["present"] == 2
    # Re-joined: the room's broadcasts reach it again.
    member.received()
    service.set_current_item(cabinet["pm"], room.id, room.agenda_items[0].id)
    assert member.events("agenda.current")[-1]["item"]["id"] == room.agenda_items[0].id


def test_meeting_state_gives_the_state_again_without_joining_twice(cabinet, room, tablet):
    member = tablet("bt.tuphap")
    member.join(room.id)
    in_session(cabinet, room, "tuphap")
    ack = member.emit("meeting.state", {"meeting_id": room.id})
    assert ack["ok"] and ack["state"]["state"]["phase"] == "open"
    assert tablet("bt.khac").emit("meeting.state", {"meeting_id": room.id})["error"]["code"] == "not_found"


# --- broadcasts ------------------------------------------------------------------------------------


def test_a_broadcast_reaches_every_joined_participant_and_no_one_else(cabinet, room, tablet):
    chair, member, guest = tablet("thutuong"), tablet("bt.tuphap"), tablet("khach")
    connected_elsewhere = tablet("bt.khac")  # logged in and connected, not a participant
    not_joined = tablet("bt.yte")  # a participant whose page is not in the room
    for device in (chair, member, guest):
        assert device.join(room.id)["ok"]
    assert chair.emit("meeting.open", {"meeting_id": room.id}) == {"ok": True}
    second = room.agenda_items[1]
    for device in (chair, member, guest, connected_elsewhere, not_joined):
        device.received()

    ack = chair.emit("agenda.set_current", {"meeting_id": room.id, "item_id": second.id})
    assert ack == {"ok": True}
    for device in (chair, member, guest):
        current = device.events("agenda.current")
        assert len(current) == 1 and current[0]["item"]["id"] == second.id
        assert current[0]["item"]["title"] == ITEMS[1] and current[0]["meeting_id"] == room.id
    assert connected_elsewhere.received() == []
    assert not_joined.received() == []

    assert member.emit("attendance.check_in", {"meeting_id": room.id}) == {"ok": True}
    assert chair.emit("attendance.check_in", {"meeting_id": room.id}) == {"ok": True}
    opened = chair.emit("vote.open", {"meeting_id": room.id, "question": ITEMS[1]})
    assert opened["ok"] and opened["vote"]["agenda_item_id"] == second.id
    vote_id = opened["vote"]["id"]
    for device in (chair, member, guest):
        device.received()
    cast = member.emit("vote.cast", {"vote_id": vote_id, "choice": "for"})
    assert cast == {"ok": True, "vote_id": vote_id, "choice": "for", "changed": False, "receipt": None}
    for device in (chair, member, guest):
        tally = device.events("vote.tally")
        assert len(tally) == 1
        assert tally[0]["cast"] == 1 and tally[0]["counts"] == {"for": 1, "against": 0, "abstain": 0}
        assert tally[0]["ballots"] == [{"user": {"id": cabinet["tuphap"].id,
                                                 "full_name": cabinet["tuphap"].full_name},
                                        "choice": "for"}]
    assert connected_elsewhere.received() == [] and not_joined.received() == []

    changed = member.emit("vote.cast", {"vote_id": vote_id, "choice": "against"})
    assert changed["ok"] and changed["changed"] is True
    assert guest.events("vote.tally")[-1]["counts"] == {"for": 0, "against": 1, "abstain": 0}

    closed = chair.emit("vote.close", {"vote_id": vote_id})
    assert closed["ok"] and closed["vote"]["status"] == "closed"
    result = guest.events("vote.closed")
    assert len(result) == 1 and result[0]["outcome"] == "rejected"
    assert result[0]["result"]["counts"] == {"for": 0, "against": 1, "abstain": 0}
    assert connected_elsewhere.received() == []


def test_speakers_queue_is_broadcast_and_the_chair_gives_the_floor(cabinet, room, tablet):
    chair, member = tablet("thutuong"), tablet("bt.tuphap")
    chair.join(room.id)
    member.join(room.id)
    chair.emit("meeting.open", {"meeting_id": room.id})
    member.received()
    asked = member.emit("speaker.request", {"meeting_id": room.id})
    assert asked["ok"] and isinstance(asked["request_id"], int)
    queue = chair.events("speaker.queue")[-1]
    assert [r["user"]["id"] for r in queue["waiting"]] == [cabinet["tuphap"].id]
    again = member.emit("speaker.request", {"meeting_id": room.id})
    assert again["error"]["code"] == "already_requested"
    assert member.emit("speaker.give_floor", {"meeting_id": room.id, "request_id": asked["request_id"]}
                       )["error"]["code"] == "forbidden"
    given = chair.emit("speaker.give_floor", {"meeting_id": room.id, "request_id": asked["request_id"],
                                              "seconds": 120})
    assert given == {"ok": True}
    speaking = member.events("speaker.queue")[-1]["speaking"]
    assert speaking["user"]["id"] == cabinet["tuphap"].id and speaking["limit_seconds"] == 120
    assert speaking["started_at"]
    assert member.emit("speaker.end", {"meeting_id": room.id}) == {"ok": True}
    assert chair.events("speaker.queue")[-1]["speaking"] is None


def test_a_recalled_document_is_announced_to_the_room(cabinet, room, tablet):
    document = published(cabinet["thuky"], room, title="Tờ trình")
    member = tablet("bt.tuphap")
    member.join(room.id)
    documents_service.recall(cabinet["thuky"], document.id, "Thay bằng bản mới")
    recalled = member.events("document.recalled")
    assert recalled and recalled[0] == {"meeting_id": room.id, "document_id": document.id}
    assert document.id not in {d["id"] for d in member.join(room.id)["state"]["documents"]}


# --- refusals ---------------------------------------------------------------------------------------


def test_a_guest_cannot_vote(cabinet, room, tablet):
    in_session(cabinet, room, "pm", "guest")
    vote = service.open_vote(cabinet["pm"], room.id, question="Thông qua")
    guest = tablet("khach")
    guest.join(room.id)
    ack = guest.emit("vote.cast", {"vote_id": vote.id, "choice": "for"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "not_a_voter" and ack["error"]["message"]


def test_the_secretariat_cannot_vote_and_a_member_cannot_drive_the_meeting(cabinet, room, tablet):
    in_session(cabinet, room, "pm")
    vote = service.open_vote(cabinet["pm"], room.id, question="Thông qua")
    assert tablet("thuky").emit("vote.cast", {"vote_id": vote.id, "choice": "for"})["error"]["code"] \
        == "not_a_voter"
    member = tablet("bt.tuphap")
    for event, data in (("meeting.close", {"meeting_id": room.id}),
                        ("agenda.set_current", {"meeting_id": room.id, "item_id": room.agenda_items[0].id}),
                        ("vote.close", {"vote_id": vote.id}),
                        ("attendance.check_in", {"meeting_id": room.id, "user_id": cabinet["yte"].id})):
        ack = member.emit(event, data)
        assert ack["ok"] is False and ack["error"]["code"] == "forbidden", event


def test_a_member_not_checked_in_is_told_to_check_in(cabinet, room, tablet):
    in_session(cabinet, room, "pm")
    vote = service.open_vote(cabinet["pm"], room.id, question="Thông qua")
    ack = tablet("bt.tuphap").emit("vote.cast", {"vote_id": vote.id, "choice": "for"})
    assert ack["error"]["code"] == "not_checked_in"


@pytest.mark.parametrize("payload", [{"meeting_id": "x"}, {"meeting_id": True}, {"meeting_id": -1},
                                     {"meeting_id": 2**63}, {}, [1], True, "1", 7])
def test_malformed_payloads_get_bad_request(cabinet, room, tablet, payload):
    member = tablet("bt.tuphap")
    ack = member.emit("meeting.join", payload)
    assert ack["ok"] is False and ack["error"]["code"] == "bad_request"
    assert ack["error"]["message"]
    assert member.sio.is_connected()


@pytest.mark.parametrize("event, payload", [
    ("vote.cast", {"vote_id": 1, "choice": 5}),
    ("vote.cast", {"vote_id": "1", "choice": "for"}),
    ("vote.open", {"meeting_id": 1, "question": "Q", "options": "for,against"}),
    ("vote.open", {"meeting_id": 1, "question": "Q", "secret": "yes"}),
    ("attendance.check_in", {"meeting_id": 1, "present": "no"}),
    ("agenda.conclude", {"meeting_id": 1, "item_id": 1, "conclusion": ["x"]}),
    ("speaker.give_floor", {"meeting_id": 1, "request_id": 1, "seconds": 1.5}),
])
def test_malformed_fields_get_bad_request(cabinet, room, tablet, event, payload):
    ack = tablet("thutuong").emit(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == "bad_request", ack


# --- secret votes ------------------------------------------------------------------------------------


def test_a_secret_vote_tally_carries_no_counts_and_no_ballots_until_it_closes(cabinet, room, tablet):
    in_session(cabinet, room, "pm", "tuphap", "yte")
    chair, member, other = tablet("thutuong"), tablet("bt.tuphap"), tablet("bt.yte")
    for device in (chair, member, other):
        device.join(room.id)
    opened = chair.emit("vote.open", {"meeting_id": room.id, "question": "Bỏ phiếu kín", "secret": True})
    assert opened["ok"] and opened["vote"]["secret"] is True
    assert opened["vote"]["tally"]["counts"] is None and opened["vote"]["tally"]["ballots"] is None
    vote_id = opened["vote"]["id"]
    for device in (chair, member, other):
        device.received()

    first = member.emit("vote.cast", {"vote_id": vote_id, "choice": "for"})
    assert first["ok"] and isinstance(first["receipt"], str) and len(first["receipt"]) > 20
    for device in (chair, member, other):
        tally = device.events("vote.tally")[-1]
        assert tally["cast"] == 1 and tally["counts"] is None and tally["ballots"] is None
    state = member.join(room.id)["state"]["open_vote"]
    assert state["me"] == {"can_vote": True, "voted": True, "choice": None}
    assert state["tally"]["counts"] is None

    # A change needs the receipt of the device that voted.
    assert other.emit("vote.cast", {"vote_id": vote_id, "choice": "against"})["ok"]  # their own ballot
    no_receipt = member.emit("vote.cast", {"vote_id": vote_id, "choice": "against"})
    assert no_receipt["error"]["code"] == "already_voted"
    changed = member.emit("vote.cast", {"vote_id": vote_id, "choice": "against",
                                        "receipt": first["receipt"]})
    assert changed["ok"] and changed["changed"] is True and changed["receipt"] != first["receipt"]

    chair.received()
    closed = chair.emit("vote.close", {"vote_id": vote_id})
    assert closed["ok"]
    result = other.events("vote.closed")[-1]
    assert result["result"]["counts"] == {"for": 0, "against": 2, "abstain": 0}
    assert result["tally"]["ballots"] is None
