"""The meeting room over real sockets: ``python app.py`` (gevent) in a subprocess, on this test's
database, and python-socketio's own client as the tablets (websocket transport, API tokens).

The test process builds users, the meeting and its agenda through the services and commits before
a server reads; after that it touches the database only through short connections of its own
(:func:`rows`), so it never holds SQLite's write lock while a server works.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import socketio
import sqlalchemy as sa

from cabinet.audit import service as audit
from cabinet.auth import service as auth_service
from cabinet.extensions import db
from cabinet.live import service as live
from cabinet.meetings import service as meetings_service
from tests.conftest import IN_CI
from tests.live_processes import ServerProcess, Tablet, close_all
from tests.meeting_factories import schedule

OPTIONS = ("for", "against", "abstain")
REDIS_TEST_URL = "redis://127.0.0.1:6379/5"


# --- servers, tablets, rooms -------------------------------------------------------------------------


@pytest.fixture
def start_server(app, tmp_path):
    """Start ``python app.py`` on this test's database; every server is stopped at the end."""
    started: list[ServerProcess] = []

    def start(**env: str | None) -> ServerProcess:
        db.session.commit()  # the server must see our data; on SQLite, our write lock must be free
        n = len(started)
        instance = tmp_path / f"server{n}"
        instance.mkdir()
        server = ServerProcess({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                                "SECRET_KEY": app.config["SECRET_KEY"],
                                "CABINET_INSTANCE_PATH": str(instance), "REDIS_URL": None, **env},
                               Path(tmp_path / f"server{n}.log"))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tablets(start_server):
    """Open a connected :class:`Tablet`; all are closed before the servers stop."""
    opened: list[Tablet] = []

    def open_tablet(server: ServerProcess, token: str | None, name: str = "", *, reconnect: bool = False,
                    connect: bool = True) -> Tablet:
        tablet = Tablet(server.url, token, name, reconnect=reconnect)
        opened.append(tablet)
        return tablet.connect() if connect else tablet

    yield open_tablet
    close_all(opened)


@dataclass
class Room:
    """What the tests need of a meeting, as plain values (no ORM object outlives the setup)."""

    meeting_id: int
    item_ids: list[int]
    chair: str
    voters: list[str]  # usernames, the chair first
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)


def build_room(cabinet, make_user, *, extra_members: int = 0, check_in: bool = True) -> Room:
    """A meeting starting in 30 minutes (check-in is open), opened by the chair, with two agenda
    items; the chair and the members checked in; an API token for everyone in ``cabinet``."""
    extra = [make_user(f"bt.thu{n:02d}", full_name=f"Bộ trưởng Thử {n:02d}") for n in range(extra_members)]
    members = [cabinet["tuphap"], cabinet["yte"], *extra]
    meeting = schedule(cabinet["thuky"], chair=cabinet["pm"], members=members, secretaries=[cabinet["thuky"]],
                       guests=[cabinet["guest"]], starts_in=timedelta(minutes=30))
    items = [meetings_service.add_item(cabinet["thuky"], meeting.id,
                                       meetings_service.AgendaItemData(title=title)).id
             for title in ("Dự án Luật Đất đai (sửa đổi)", "Nghị quyết phiên họp thường kỳ tháng 11")]
    live.open_meeting(cabinet["pm"], meeting.id)
    voters = [cabinet["pm"], *members]
    if check_in:
        for user in voters:
            live.check_in(user, meeting.id)
    everyone = {u.username: u for u in [*cabinet.values(), *extra]}
    room = Room(meeting_id=meeting.id, item_ids=items, chair=cabinet["pm"].username,
                voters=[u.username for u in voters],
                tokens={name: auth_service.issue_token(u, label="tablet")[0] for name, u in everyone.items()},
                user_ids={name: u.id for name, u in everyone.items()})
    db.session.commit()
    return room


def rows(sql: str, **params) -> list:
    """Read the shared database through a connection of our own, closed at once."""
    with db.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).all()


def in_parallel(work: Callable, jobs: Iterable[tuple], *, together: bool = True) -> list:
    """Run ``work(*job)`` for every job on its own thread; with ``together``, all start at the
    same moment (a barrier), as members pressing the button at once do."""
    jobs = list(jobs)
    barrier = threading.Barrier(len(jobs)) if together else None

    def run(job):
        if barrier is not None:
            barrier.wait()
        return work(*job)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def join_all(tablets_: list[Tablet], meeting_id: int) -> list[dict]:
    acks = in_parallel(lambda t: t.call("meeting.join", {"meeting_id": meeting_id}),
                       [(t,) for t in tablets_], together=False)
    assert all(ack["ok"] for ack in acks), acks
    return acks


def vote_counts(vote_id: int) -> dict[str, int]:
    return {choice: count for choice, count in
            rows("SELECT choice, count FROM vote_counts WHERE vote_id = :v", v=vote_id)}


def ballots(vote_id: int) -> list[tuple[int, str | None]]:
    return [tuple(r) for r in rows("SELECT voter_id, choice FROM vote_ballots WHERE vote_id = :v", v=vote_id)]


def expected_counts(choices: Iterable[str]) -> dict[str, int]:
    found = Counter(choices)
    return {option: found.get(option, 0) for option in OPTIONS}


# --- who may come in -----------------------------------------------------------------------------------


def test_unauthenticated_and_uninvited_tablets_are_refused(cabinet, make_user, start_server, tablets):
    room = build_room(cabinet, make_user)
    vote = live.open_vote(cabinet["pm"], room.meeting_id, question="Thông qua dự án Luật?")
    vote_id = vote.id
    server = start_server()

    for name, token in (("anonymous", None), ("forged token", "cab_not-a-real-token")):
        refused = tablets(server, token, name, connect=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect()
        assert not refused.sio.connected
        # What the Socket.IO client hands to connect_error: a reason the tablet can act on.
        assert refused.refusal["data"]["code"] == "unauthenticated", refused.refusal

    outsider = tablets(server, room.tokens["bt.khac"], "outsider")  # a real account, not invited
    for event, data in (("meeting.join", {"meeting_id": room.meeting_id}),
                        ("meeting.state", {"meeting_id": room.meeting_id}),
                        ("vote.cast", {"vote_id": vote_id, "choice": "for"})):
        ack = outsider.call(event, data)
        assert not ack["ok"] and ack["error"]["code"] == "not_found", (event, ack)
    guest = tablets(server, room.tokens["khach"], "guest")
    assert guest.call("meeting.join", {"meeting_id": room.meeting_id})["ok"]
    assert guest.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["error"]["code"] == "not_a_voter"

    # The room's next broadcasts reach the invited guest, and never the outsider.
    chair = tablets(server, room.tokens[room.chair], "chair")
    assert chair.call("meeting.join", {"meeting_id": room.meeting_id})["ok"]
    assert chair.call("agenda.set_current", {"meeting_id": room.meeting_id,
                                             "item_id": room.item_ids[0]})["ok"]
    assert tablets(server, room.tokens["bt.tuphap"], "member").call(
        "vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    guest.wait_for("vote.tally", lambda p: p["cast"] == 1)
    assert guest.events("agenda.current")[0]["item"]["id"] == room.item_ids[0]
    outsider.sync()
    assert outsider.received == []
    assert ballots(vote_id) == [(room.user_ids["bt.tuphap"], "for")]


# --- state on join and after a reconnect --------------------------------------------------------------


def test_a_tablet_gets_the_whole_state_on_join_and_catches_up_after_losing_the_network(
        cabinet, make_user, start_server, tablets):
    room = build_room(cabinet, make_user)
    server = start_server()
    member = tablets(server, room.tokens["bt.tuphap"], "member", reconnect=True)
    chair = tablets(server, room.tokens[room.chair], "chair")
    other = tablets(server, room.tokens["bt.yte"], "other member")
    join_all([chair, other], room.meeting_id)

    state = member.call("meeting.join", {"meeting_id": room.meeting_id})["state"]
    assert state["meeting"]["id"] == room.meeting_id
    assert [item["id"] for item in state["agenda"]] == room.item_ids
    assert state["state"]["phase"] == "open" and state["current_item_id"] is None
    assert state["me"] == {**state["me"], "id": room.user_ids["bt.tuphap"], "role": "member",
                           "can_vote": True, "can_control": False}
    assert state["attendance"]["present"] == 3 and state["attendance"]["quorum_met"]
    assert state["open_vote"] is None and state["votes"] == []

    member.drop_network()
    member.wait_connected(2)  # python-socketio reconnects by itself; the room must be joined again
    # While the tablet is out of the room, the meeting goes on.
    assert chair.call("agenda.set_current", {"meeting_id": room.meeting_id,
                                             "item_id": room.item_ids[1]})["ok"]
    opened = chair.call("vote.open", {"meeting_id": room.meeting_id, "question": "Thông qua Nghị quyết?"})
    vote_id = opened["vote"]["id"]
    assert other.call("vote.cast", {"vote_id": vote_id, "choice": "against"})["ok"]
    member.sync()
    assert member.events("agenda.current") == [] and member.events("vote.opened") == []

    state = member.call("meeting.join", {"meeting_id": room.meeting_id})["state"]
    assert state["current_item_id"] == room.item_ids[1]
    assert state["open_vote"]["id"] == vote_id and state["open_vote"]["question"] == "Thông qua Nghị quyết?"
    assert state["open_vote"]["tally"]["cast"] == 1
    assert state["open_vote"]["me"] == {"can_vote": True, "voted": False, "choice": None}

    assert member.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    tally = member.wait_for("vote.tally", lambda p: p["cast"] == 2)
    assert tally["counts"] == {"for": 1, "against": 1, "abstain": 0}
    assert member.call("meeting.state", {"meeting_id": room.meeting_id})["state"]["open_vote"]["me"] == {
        "can_vote": True, "voted": True, "choice": "for"}


# --- broadcasts -----------------------------------------------------------------------------------------


def test_room_broadcasts_reach_every_participant_and_nobody_else(cabinet, make_user, start_server, tablets):
    room = build_room(cabinet, make_user, check_in=False)
    elsewhere = schedule(cabinet["thuky"], chair=cabinet["thu_truong"], starts_in=timedelta(minutes=30),
                         title="Phiên họp chuyên đề")
    elsewhere_id = elsewhere.id
    live.open_meeting(cabinet["thu_truong"], elsewhere_id)
    server = start_server()

    inside = {name: tablets(server, room.tokens[name], name) for name in ("thutuong", "bt.tuphap", "bt.yte",
                                                                          "thuky", "khach")}
    inside["bt.tuphap (2nd device)"] = tablets(server, room.tokens["bt.tuphap"], "bt.tuphap (2nd device)")
    join_all(list(inside.values()), room.meeting_id)
    outsider = tablets(server, room.tokens["bt.khac"], "outsider")
    assert not outsider.call("meeting.join", {"meeting_id": room.meeting_id})["ok"]
    other_room = tablets(server, room.tokens["tt.tuphap"], "another meeting's chair")
    join_all([other_room], elsewhere_id)
    not_joined = tablets(server, room.tokens["bt.yte"], "bt.yte, connected but not in the room")

    chair, member = inside["thutuong"], inside["bt.tuphap"]
    steps = [
        (member, "attendance.check_in", {"meeting_id": room.meeting_id}),
        (chair, "attendance.check_in", {"meeting_id": room.meeting_id}),
        (chair, "agenda.set_current", {"meeting_id": room.meeting_id, "item_id": room.item_ids[0]}),
        (member, "speaker.request", {"meeting_id": room.meeting_id}),
        (chair, "vote.open", {"meeting_id": room.meeting_id, "question": "Thông qua dự án Luật Đất đai?"}),
    ]
    for tablet, event, data in steps:
        ack = tablet.call(event, data)
        assert ack["ok"], (event, ack)
    vote_id = ack["vote"]["id"]
    assert member.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    assert chair.call("vote.close", {"vote_id": vote_id})["ok"]
    # Meanwhile, in the other meeting:
    assert other_room.call("agenda.set_current", {"meeting_id": elsewhere_id, "item_id": None})["ok"]

    expected = ["attendance.changed", "attendance.changed", "agenda.current", "speaker.queue", "vote.opened",
                "vote.tally", "vote.closed"]
    for tablet in [*inside.values(), outsider, other_room, not_joined]:
        tablet.sync()
    first = None
    for name, tablet in inside.items():
        seen = [(event, payload) for event, payload in tablet.received]
        assert [event for event, _ in seen] == expected, name
        assert all(payload["meeting_id"] == room.meeting_id for _, payload in seen)
        first = first or seen
        assert seen == first, f"{name} saw different payloads"  # one shape for everyone
    assert first[-1][1]["outcome"] == "rejected"  # 1 of 3 members for: not more than half of all (D7)
    assert outsider.received == [] and not_joined.received == []
    assert [(event, payload["meeting_id"]) for event, payload in other_room.received] == [
        ("agenda.current", elsewhere_id)]


# --- votes ---------------------------------------------------------------------------------------------


def test_thirty_members_voting_at_once_with_duplicates_are_counted_exactly(cabinet, make_user, start_server,
                                                                          tablets):
    room = build_room(cabinet, make_user, extra_members=27)  # the Prime Minister and 29 ministers
    assert len(room.voters) == 30
    server = start_server()
    devices = {name: [tablets(server, room.tokens[name], f"{name}/{d}") for d in ("tablet", "phone")]
               for name in room.voters}
    everyone = [tablet for pair in devices.values() for tablet in pair]
    join_all(everyone, room.meeting_id)
    opened = devices[room.chair][0].call("vote.open", {"meeting_id": room.meeting_id,
                                                       "question": "Thông qua dự án Luật Đất đai (sửa đổi)?"})
    assert opened["ok"], opened
    vote_id = opened["vote"]["id"]
    for tablet in everyone:
        tablet.wait_for("vote.opened")

    # Each member presses on both devices at the same moment: 60 casts, 30 ballots.
    first = {name: OPTIONS[i % 3] for i, name in enumerate(room.voters)}
    presses = [(tablet, name, first[name]) for name, pair in devices.items() for tablet in pair]

    def press(tablet: Tablet, _name: str, choice: str) -> dict:
        return tablet.call("vote.cast", {"vote_id": vote_id, "choice": choice}, timeout=30)

    acks = in_parallel(press, presses)
    assert all(ack["ok"] and ack["choice"] == choice
               for ack, (_t, _n, choice) in zip(acks, presses, strict=True)), [a for a in acks if not a["ok"]]
    assert not any(ack["changed"] for ack in acks)

    # Five change their mind, on one device each, at once; and one presses the same again.
    changers = room.voters[3:8]
    final = dict(first)
    final.update({name: OPTIONS[(OPTIONS.index(first[name]) + 1) % 3] for name in changers})
    changes = in_parallel(press, [(devices[name][1], name, final[name]) for name in changers]
                          + [(devices[room.voters[9]][0], room.voters[9], final[room.voters[9]])])
    assert [ack["ok"] and ack["changed"] for ack in changes] == [True] * 5 + [False], changes

    expected = expected_counts(final.values())
    assert sum(expected.values()) == 30
    final_ballots = {room.user_ids[name]: choice for name, choice in final.items()}

    def is_final(tally: dict) -> bool:
        return tally["cast"] == 30 and tally["counts"] == expected and {
            b["user"]["id"]: b["choice"] for b in tally["ballots"]} == final_ballots

    for tablet in everyone:
        tablet.wait_for("vote.tally", is_final)  # the final tally reached every device
        # ... and a device keeping the highest revision (as the page does) shows it: broadcasts of
        # two casts may overtake each other, the revision orders them.
        tablet.sync()
        newest = max(tablet.events("vote.tally"), key=lambda tally: tally["revision"])
        assert is_final(newest), tablet
    assert vote_counts(vote_id) == expected
    assert sorted(ballots(vote_id)) == sorted((room.user_ids[name], choice) for name, choice in final.items())
    audited = Counter(action for (action,) in rows(
        "SELECT action FROM audit_entries WHERE object_type = 'vote' AND object_id = :v", v=str(vote_id)))
    assert audited == {"vote.opened": 1, "vote.cast": 30, "vote.changed": 5}


def test_a_secret_vote_stores_no_voter_next_to_a_choice(cabinet, make_user, start_server, tablets):
    room = build_room(cabinet, make_user, extra_members=3)
    server = start_server()
    devices = {name: tablets(server, room.tokens[name], name) for name in room.voters}
    join_all(list(devices.values()), room.meeting_id)
    opened = devices[room.chair].call("vote.open", {"meeting_id": room.meeting_id, "secret": True,
                                                    "question": "Giới thiệu nhân sự (bỏ phiếu kín)?"})
    vote_id = opened["vote"]["id"]
    choices = {name: OPTIONS[i % 3] for i, name in enumerate(room.voters)}  # 6 voters: 2 of each
    acks = in_parallel(lambda name: devices[name].call("vote.cast", {"vote_id": vote_id,
                                                                     "choice": choices[name]}),
                       [(name,) for name in room.voters])
    assert all(ack["ok"] and ack["receipt"] for ack in acks), acks
    receipts = {name: ack["receipt"] for name, ack in zip(room.voters, acks, strict=True)}
    changer = room.voters[1]
    refused = devices[changer].call("vote.cast", {"vote_id": vote_id, "choice": "abstain"})
    assert refused["error"]["code"] == "already_voted"  # a change needs this device's receipt
    changed = devices[changer].call("vote.cast", {"vote_id": vote_id, "choice": "abstain",
                                                  "receipt": receipts[changer]})
    assert changed["ok"] and changed["changed"]
    choices[changer] = "abstain"
    state = devices[changer].call("meeting.state", {"meeting_id": room.meeting_id})["state"]
    assert state["open_vote"]["me"] == {"can_vote": True, "voted": True, "choice": None}
    closed = devices[room.chair].call("vote.close", {"vote_id": vote_id})
    assert closed["vote"]["result"]["counts"] == expected_counts(choices.values())

    # Who voted is one table, with no choice; how many chose what is another, with no voter.
    assert sorted(ballots(vote_id)) == sorted((room.user_ids[name], None) for name in room.voters)
    assert vote_counts(vote_id) == expected_counts(choices.values())
    inspector = sa.inspect(db.engine)
    assert {c["name"] for c in inspector.get_columns("vote_counts")} == {"vote_id", "choice", "count"}
    for table in inspector.get_table_names():
        columns = {c["name"] for c in inspector.get_columns(table)}
        if "choice" in columns and table != "vote_ballots":
            user_keys = [fk for fk in inspector.get_foreign_keys(table) if fk["referred_table"] == "users"]
            assert not user_keys, f"{table} keeps a choice next to a user"
    entries = rows("SELECT action, details FROM audit_entries WHERE object_type = 'vote' AND object_id = :v",
                   v=str(vote_id))
    trail = [(action, details if isinstance(details, dict) else json.loads(details))
             for action, details in entries]
    assert Counter(action for action, _ in trail) == {"vote.opened": 1, "vote.cast": 6, "vote.changed": 1,
                                                      "vote.closed": 1}
    for action, details in trail:
        if action in ("vote.cast", "vote.changed"):
            assert details == {}, (action, details)
    # Nor did any tablet hear who chose what, or the counts before the close.
    for name, tablet in devices.items():
        tablet.sync()
        for tally in tablet.events("vote.tally"):
            assert tally["ballots"] is None and tally["counts"] is None, (name, tally)
        assert tablet.events("vote.closed")[-1]["tally"]["ballots"] is None


def test_a_vote_cast_after_the_close_is_refused_and_never_counted(cabinet, make_user, start_server, tablets):
    room = build_room(cabinet, make_user, extra_members=9)
    server = start_server()
    devices = {name: tablets(server, room.tokens[name], name) for name in room.voters}
    join_all(list(devices.values()), room.meeting_id)
    chair = devices[room.chair]
    vote_id = chair.call("vote.open", {"meeting_id": room.meeting_id, "question": "Thông qua?"})["vote"]["id"]
    assert chair.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]

    # The chair closes while eleven members press at once: each press is either counted in the
    # result or refused with vote_closed, never counted after the result was drawn up.
    others = room.voters[1:]
    jobs = [(chair, "vote.close", {"vote_id": vote_id})]
    jobs += [(devices[name], "vote.cast", {"vote_id": vote_id, "choice": "against"}) for name in others]
    acks = in_parallel(lambda tablet, event, data: tablet.call(event, data, timeout=30), jobs)
    closed, casts = acks[0], acks[1:]
    assert closed["ok"], closed
    refused = [ack for ack in casts if not ack["ok"]]
    assert all(ack["error"]["code"] == "vote_closed" for ack in refused), refused
    counted = len(casts) - len(refused)
    assert closed["vote"]["result"]["counts"] == {"for": 1, "against": counted, "abstain": 0}

    late = devices[others[0]].call("vote.cast", {"vote_id": vote_id, "choice": "abstain"})
    assert not late["ok"] and late["error"]["code"] == "vote_closed"
    assert vote_counts(vote_id) == {"for": 1, "against": counted, "abstain": 0}
    assert len(ballots(vote_id)) == 1 + counted
    for tablet in devices.values():
        tablet.sync()
        assert tablet.events("vote.closed")[-1]["result"] == closed["vote"]["result"]
        assert tablet.events("vote.tally")[-1]["cast"] == 1 + counted


# --- several processes, and a crash -----------------------------------------------------------------------


def _redis_or_skip(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        if IN_CI:  # CI has Redis: a missing one is a failure, not a skip
            raise
        pytest.skip(f"Redis is not reachable at {url} ({error}): the multi-process test needs it")


def test_a_second_server_process_on_redis_delivers_broadcasts_caused_on_the_first(cabinet, make_user,
                                                                                   start_server, tablets):
    _redis_or_skip(REDIS_TEST_URL)
    room = build_room(cabinet, make_user)
    channel = f"cabinet-test-{uuid.uuid4().hex}"  # this run's own: Redis pub/sub has no databases
    first = start_server(REDIS_URL=REDIS_TEST_URL, CABINET_SOCKETIO_CHANNEL=channel)
    second = start_server(REDIS_URL=REDIS_TEST_URL, CABINET_SOCKETIO_CHANNEL=channel)
    watcher = tablets(first, room.tokens["bt.tuphap"], "member on server 1")
    chair = tablets(second, room.tokens[room.chair], "chair on server 2")
    voter = tablets(second, room.tokens["bt.yte"], "member on server 2")
    join_all([watcher, chair, voter], room.meeting_id)

    assert chair.call("agenda.set_current", {"meeting_id": room.meeting_id,
                                             "item_id": room.item_ids[1]})["ok"]
    current = watcher.wait_for("agenda.current")
    assert current["item"]["id"] == room.item_ids[1]
    vote_id = chair.call("vote.open", {"meeting_id": room.meeting_id, "question": "Thông qua?"})["vote"]["id"]
    watcher.wait_for("vote.opened", lambda p: p["id"] == vote_id)
    assert voter.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    tally = watcher.wait_for("vote.tally", lambda p: p["vote_id"] == vote_id and p["cast"] == 1)
    assert tally["counts"] == {"for": 1, "against": 0, "abstain": 0}
    # And the other way round.
    assert watcher.call("vote.cast", {"vote_id": vote_id, "choice": "against"})["ok"]
    assert chair.wait_for("vote.tally", lambda p: p["cast"] == 2)["counts"] == {"for": 1, "against": 1,
                                                                               "abstain": 0}


def test_a_server_killed_mid_vote_keeps_every_acknowledged_ballot(cabinet, make_user, start_server, tablets):
    room = build_room(cabinet, make_user, extra_members=17)  # 20 voters
    vote_id = live.open_vote(cabinet["pm"], room.meeting_id, question="Thông qua dự án Luật?").id
    server = start_server()
    devices = {name: tablets(server, room.tokens[name], name, reconnect=True) for name in room.voters}
    join_all(list(devices.values()), room.meeting_id)

    lock = threading.Lock()
    acked: dict[str, str] = {}  # the last choice the server acknowledged, per member
    in_flight: dict[str, str] = {}  # sent, no answer before the crash: may or may not be stored
    total_acks = [0]
    enough = threading.Event()

    def keep_voting(name: str, offset: int) -> None:
        # Each member changes their mind over and over, one press at a time.
        for k in range(30):
            choice = OPTIONS[(offset + k) % 3]
            try:
                ack = devices[name].call("vote.cast", {"vote_id": vote_id, "choice": choice}, timeout=3)
            except socketio.exceptions.TimeoutError:
                with lock:
                    in_flight[name] = choice
                return
            except socketio.exceptions.SocketIOError:  # disconnected before sending: nothing was sent
                return
            assert ack["ok"], ack
            with lock:
                acked[name] = choice
                total_acks[0] += 1
                if total_acks[0] >= 60:
                    enough.set()

    workers = [threading.Thread(target=keep_voting, args=(name, i)) for i, name in enumerate(room.voters)]
    for worker in workers:
        worker.start()
    assert enough.wait(30), "the votes did not get going"
    server.kill()  # SIGKILL, mid-burst
    for worker in workers:
        worker.join(30)
    assert acked and total_acks[0] < 20 * 30, "the burst was over before the crash"

    server.start()
    for tablet in devices.values():
        tablet.wait_connected(2)
    states = [ack["state"] for ack in join_all(list(devices.values()), room.meeting_id)]

    stored = dict(ballots(vote_id))
    assert len(ballots(vote_id)) == len(stored)  # no member has two ballots
    for name in room.voters:
        # The last acknowledged choice, or the one sent after it that got no answer (it may have
        # been stored just before the crash); a member never acknowledged may have no ballot.
        if name in acked:
            allowed = {acked[name], in_flight.get(name, acked[name])}
        else:
            allowed = {None, in_flight.get(name)}
        assert stored.get(room.user_ids[name]) in allowed, (name, stored.get(room.user_ids[name]), allowed)
    counts = vote_counts(vote_id)
    assert counts == expected_counts(stored.values())  # the tally moved with the ballots, never apart
    for state in states:
        tally = state["open_vote"]["tally"]
        assert tally["cast"] == len(stored) and tally["counts"] == counts
        assert {b["user"]["id"]: b["choice"] for b in tally["ballots"]} == stored
    assert audit.verify_chain().ok  # the trail survived the crash unbroken
    db.session.rollback()

    # Tablets that got no answer retry; every member's last press counts, exactly once.
    final = {name: OPTIONS[(i + 1) % 3] for i, name in enumerate(room.voters)}
    retries = in_parallel(lambda name: devices[name].call("vote.cast", {"vote_id": vote_id,
                                                                        "choice": final[name]}),
                          [(name,) for name in room.voters])
    assert all(ack["ok"] for ack in retries), retries
    assert vote_counts(vote_id) == expected_counts(final.values())
    assert sorted(ballots(vote_id)) == sorted((room.user_ids[n], c) for n, c in final.items())
    for tablet in devices.values():
        tablet.sync()
        assert tablet.events("vote.tally")[-1]["counts"] == expected_counts(final.values())
