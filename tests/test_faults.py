"""Faults, and what users see: a web process killed in the middle of a burst of votes and
annotations; Redis going down and coming back; the database dropping every connection (how a
PostgreSQL restart looks to the app). Real processes and clients (tests/cluster.py); the
"Failures and what users see" section of docs/operations.md says the same for operators.

The kill and Redis tests run on the leg's database (SQLite or PostgreSQL); the database test needs
PostgreSQL (``needs_postgres``: a scratch database on a SQLite run). Restarting the machine's
PostgreSQL is not an option on a shared server, so the restart is simulated the way clients
experience it: ``pg_terminate_backend`` on every connection to the test database.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter

import redis
import requests
import socketio

from cabinet.audit import service as audit
from cabinet.core.resilience import Outage, is_unreachable
from cabinet.extensions import db
from cabinet.live import service as live
from tests.cluster import (  # noqa: F401  (fixtures)
    Api,
    app,
    cluster,
    meeting_document,
    needs_postgres,
    redis_server,
    rows,
    scratch_postgres,
    wait_until,
)
from tests.conftest import CSRF_RE, PASSWORD
from tests.test_live_server import OPTIONS, ballots, build_room, expected_counts, join_all, vote_counts


def note(public_id: str, n: int) -> dict:
    return {"id": public_id, "kind": "note", "page": 1, "point": [0.05 + (n % 9) / 10, 0.5],
            "body": f"Ý kiến số {n}: đề nghị làm rõ khoản {n % 7 + 1}"}


class Writes:
    """What the clients sent and what the servers acknowledged, kept by the writer threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked_votes: dict[str, str] = {}  # member → the last choice acknowledged
        self.unanswered_votes: dict[str, str] = {}  # member → sent, no answer (the crash)
        self.notes: dict[str, tuple[str, str]] = {}  # annotation id → (member, "acked" | "unanswered")
        self.acks = 0
        self.errors: list[str] = []  # assertions cannot fail a test from a thread: kept here
        self.enough = threading.Event()

    def acked(self) -> None:
        self.acks += 1
        if self.acks >= 80:
            self.enough.set()


# --- a web process killed mid-burst ------------------------------------------------------------------


def test_a_web_process_killed_mid_burst_keeps_every_acknowledged_vote_and_annotation(
        cabinet, make_user, cluster, redis_server):  # noqa: F811
    room = build_room(cabinet, make_user, extra_members=9)  # 12 voters
    document_id = meeting_document(cabinet, room.meeting_id)
    vote_id = live.open_vote(cabinet["pm"], room.meeting_id, question="Thông qua dự án Luật?").id
    cluster.redis = redis_server
    doomed, survivor = cluster.start(servers=2)
    devices = {name: cluster.tablet(doomed, room.tokens[name], name, reconnect=True) for name in room.voters}
    join_all(list(devices.values()), room.meeting_id)
    writes = Writes()
    annotators_on_doomed = room.voters[3:9]
    annotators_on_survivor = ["thuky", "khach"]
    stop_survivor = threading.Event()
    survivor_acks_while_down: list[float] = []
    killed_at: list[float] = []

    def keep_voting(name: str, offset: int) -> None:
        for k in range(60):  # each member changes their mind over and over, one press at a time
            choice = OPTIONS[(offset + k) % 3]
            try:
                ack = devices[name].call("vote.cast", {"vote_id": vote_id, "choice": choice}, timeout=3)
            except socketio.exceptions.TimeoutError:
                with writes.lock:
                    writes.unanswered_votes[name] = choice
                return
            except socketio.exceptions.SocketIOError:  # disconnected before sending: nothing sent
                return
            with writes.lock:
                if not ack.get("ok"):
                    writes.errors.append(f"{name}: {ack}")
                    return
                writes.acked_votes[name] = choice
                writes.acked()

    def keep_annotating(name: str, server, until: threading.Event | None = None) -> None:
        api = Api(server, room.tokens[name], timeout=3)
        for n in range(10_000):
            if until is not None and until.is_set():
                return
            if until is None and n >= 60:
                return
            public_id = uuid.uuid4().hex
            try:
                answer = api("POST", f"/documents/{document_id}/annotations", json=note(public_id, n))
            except requests.RequestException:
                with writes.lock:
                    writes.notes[public_id] = (name, "unanswered")
                return  # the server is gone
            with writes.lock:
                if answer.status_code != 201:
                    writes.errors.append(f"{name}: {answer.status_code} {answer.text[:200]}")
                    return
                writes.notes[public_id] = (name, "acked")
                writes.acked()
                if killed_at and server is survivor:
                    survivor_acks_while_down.append(time.monotonic())
            if until is not None:
                time.sleep(0.02)

    burst = [threading.Thread(target=keep_voting, args=(name, i)) for i, name in enumerate(room.voters)]
    burst += [threading.Thread(target=keep_annotating, args=(name, doomed)) for name in annotators_on_doomed]
    steady = [threading.Thread(target=keep_annotating, args=(name, survivor, stop_survivor))
              for name in annotators_on_survivor]
    for thread in burst + steady:
        thread.start()
    try:
        assert writes.enough.wait(30), f"the burst did not get going: {writes.errors}\n{cluster.logs()}"
        assert any(thread.is_alive() for thread in burst), "the burst was over before the crash"
        doomed.kill()  # SIGKILL, mid-burst
        killed_at.append(time.monotonic())
        for thread in burst:
            thread.join(30)
        assert not writes.errors, writes.errors
        assert writes.acked_votes and any(state == "acked" for _, state in writes.notes.values())
        doomed.start()  # the same port and database: what systemd's Restart=always does
        # The other process served all along.
        wait_until(lambda: survivor_acks_while_down, 10, "an annotation acknowledged by the other process")
    finally:
        stop_survivor.set()
        for thread in steady:
            thread.join(30)
    assert not writes.errors, writes.errors
    for tablet in devices.values():
        tablet.wait_connected(2)
    states = [ack["state"] for ack in join_all(list(devices.values()), room.meeting_id)]

    # Votes: each member's stored choice is the last acknowledged one, or the one sent after it
    # that got no answer (it may have been stored just before the crash); never two ballots.
    stored = dict(ballots(vote_id))
    assert len(ballots(vote_id)) == len(stored)
    for name in room.voters:
        if name in writes.acked_votes:
            allowed = {writes.acked_votes[name], writes.unanswered_votes.get(name, writes.acked_votes[name])}
        else:
            allowed = {None, writes.unanswered_votes.get(name)}
        assert stored.get(room.user_ids[name]) in allowed, (name, stored.get(room.user_ids[name]), allowed)
    assert vote_counts(vote_id) == expected_counts(stored.values())
    for state in states:
        assert state["open_vote"]["tally"]["counts"] == vote_counts(vote_id)

    # Annotations: every acknowledged one is stored once, with its author; those that got no
    # answer are retried with the same id, as the viewer does: stored once, never twice.
    saved = {public_id: owner for public_id, owner in rows(
        "SELECT public_id, owner_id FROM annotations WHERE document_id = :d", d=document_id)}
    assert len(rows("SELECT id FROM annotations WHERE document_id = :d", d=document_id)) == len(saved)
    acked = {pid: name for pid, (name, state) in writes.notes.items() if state == "acked"}
    unanswered = {pid: name for pid, (name, state) in writes.notes.items() if state == "unanswered"}
    assert {pid: saved.get(pid) for pid in acked} == {pid: room.user_ids[name] for pid, name in acked.items()}
    assert set(saved) <= set(acked) | set(unanswered)
    for public_id, name in unanswered.items():
        retry = Api(doomed, room.tokens[name])("POST", f"/documents/{document_id}/annotations",
                                              json=note(public_id, 0))
        assert retry.status_code == (200 if public_id in saved else 201), retry.text
    saved_ids = [pid for (pid,) in rows("SELECT public_id FROM annotations WHERE document_id = :d",
                                        d=document_id)]
    assert sorted(saved_ids) == sorted(writes.notes)
    audited = Counter(object_id for (object_id,) in rows(
        "SELECT object_id FROM audit_entries WHERE action = 'annotation.created'"))
    assert audited == Counter(writes.notes.keys())  # one audit entry per annotation: no retry doubled one

    result = audit.verify_chain()  # the trail survived the crash unbroken
    db.session.rollback()
    assert result.ok, result


# --- Redis down, and back -------------------------------------------------------------------------


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    outage = Outage("Redis (REDIS_URL), the test queue", "nothing is lost")
    refused = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    with caplog.at_level(logging.INFO, logger="cabinet.redis"):
        outage.recovered()  # up all along: says nothing
        for _ in range(50):
            outage.failed(refused)
        outage.recovered()
        outage.recovered()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Redis (REDIS_URL), the test queue is unreachable (ConnectionError: Error 111 connecting "
                  "to 127.0.0.1:6379. Connection refused.): nothing is lost"),
        ("WARNING", "Redis (REDIS_URL), the test queue is reachable again (50 failed attempts meanwhile)")]
    assert all(r.exc_info is None for r in caplog.records)
    assert is_unreachable(refused) and is_unreachable(redis.exceptions.TimeoutError())
    assert not is_unreachable(ValueError("a bug"))


def _log(process) -> str:
    return process.log_path.read_text(errors="replace")


def _numsub(server, channel: str) -> int:
    client = redis.Redis(port=server.port, socket_connect_timeout=1)
    try:
        return client.pubsub_numsub(channel)[0][1]
    except redis.RedisError:
        return 0
    finally:
        client.close()


def test_with_redis_down_the_app_keeps_serving_and_recovers_without_a_restart(
        cabinet, make_user, cluster, redis_server):  # noqa: F811
    room = build_room(cabinet, make_user)
    document_id = meeting_document(cabinet, room.meeting_id)
    vote_id = live.open_vote(cabinet["pm"], room.meeting_id, question="Thông qua Nghị quyết?").id
    recipients = [room.user_ids[name] for name in ("bt.tuphap", "bt.yte")]
    cluster.redis = redis_server
    server_a, server_b, worker = cluster.start(servers=2, workers=1, CABINET_BALLOT_MIN_NOTICE_MINUTES="0")
    voter_a = cluster.tablet(server_a, room.tokens["bt.tuphap"], "voter on A")
    watcher_a = cluster.tablet(server_a, room.tokens["thuky"], "watcher on A")
    watcher_b = cluster.tablet(server_b, room.tokens["bt.yte"], "watcher on B")
    join_all([voter_a, watcher_a, watcher_b], room.meeting_id)
    assert voter_a.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    watcher_b.wait_for("vote.tally", lambda p: p["cast"] == 1)

    redis_server.kill()

    for server in (server_a, server_b):
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        ready = requests.get(f"{server.url}/readyz", timeout=5)
        assert ready.status_code == 503, ready.text
        checks = ready.json()["checks"]
        assert checks["database"]["ok"] and not checks["redis"]["ok"], checks
    # Logging in, in a browser and for a token (the rate limits count in memory meanwhile).
    browser = requests.Session()
    csrf = CSRF_RE.search(browser.get(f"{server_a.url}/login", timeout=5).text).group(1)
    form = {"username": "bt.yte", "password": PASSWORD, "csrf_token": csrf}
    login = browser.post(f"{server_a.url}/login", data=form, allow_redirects=False, timeout=10)
    assert login.status_code == 302 and "/login" not in login.headers["Location"], login.text[:300]
    assert browser.get(f"{server_a.url}/", timeout=10).status_code == 200
    token = requests.post(f"{server_b.url}/api/v1/auth/token", timeout=10,
                          json={"username": "bt.yte", "password": PASSWORD})
    assert token.status_code == 201, token.text
    member_b = Api(server_b, token.json()["token"])
    # Reading a document; annotating it.
    content = member_b("GET", f"/documents/{document_id}/content")
    assert content.status_code == 200 and content.content.startswith(b"%PDF")
    public_id = uuid.uuid4().hex
    made = member_b("POST", f"/documents/{document_id}/annotations", json=note(public_id, 1))
    assert made.status_code == 201, made.text
    assert rows("SELECT count(*) FROM annotations WHERE public_id = :p", p=public_id)[0][0] == 1
    # A vote is recorded, and the voter's own process still tells its clients.
    ack = voter_a.call("vote.cast", {"vote_id": vote_id, "choice": "against"})
    assert ack["ok"], ack
    assert ballots(vote_id) == [(room.user_ids["bt.tuphap"], "against")]
    watcher_a.wait_for("vote.tally", lambda p: p["counts"] == {"for": 0, "against": 1, "abstain": 0})
    # A ballot issued meanwhile: its closing job cannot be queued, the issue stands, and once its
    # deadline has passed the deadline decides: answers are refused.
    secretary = Api(server_b, room.tokens["thuky"])
    deadline = time.time() + 3
    made = secretary("POST", "/ballots", json={
        "title": "Dự thảo Nghị định (phát hành khi Redis ngừng)", "questions": ["Đồng ý?"],
        "deadline": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(deadline + 1)),
        "recipient_ids": recipients})
    assert made.status_code == 201, made.text
    issued = secretary("POST", f"/ballots/{made.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    assert rows("SELECT status FROM ballots WHERE id = :b", b=made.json()["id"]) == [("open",)]
    time.sleep(max(0.0, deadline + 1.2 - time.time()))
    late = member_b("POST", f"/ballots/{made.json()['id']}/responses", json={
        "answers": [{"question_id": issued.json()["questions"][0]["id"], "choice": "agree"}],
        "password": PASSWORD})
    assert late.status_code == 409 and late.json()["error"]["code"] == "deadline_passed", late.text

    # Each process said what is wrong in one line, not a traceback per call.
    for server in (server_a, server_b):
        assert _log(server).count("the Socket.IO message queue is unreachable") == 1, _log(server)
    wait_until(lambda: "the job queue is unreachable" in _log(worker), 10, "the worker to notice")
    assert _log(server_b).count("the job queue is unreachable (") == 1, _log(server_b)
    assert "could not schedule the closing of ballot" in _log(server_b)

    redis_server.start()  # the same port, empty: no restart of the app
    wait_until(lambda: _numsub(redis_server, cluster.channel) >= 2, 10,
               "both web processes to subscribe again")
    for server in (server_a, server_b):
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
    assert voter_a.call("vote.cast", {"vote_id": vote_id, "choice": "abstain"})["ok"]
    watcher_b.wait_for("vote.tally", lambda p: p["counts"] == {"for": 0, "against": 0, "abstain": 1})
    for server in (server_a, server_b):
        assert "the Socket.IO message queue is reachable again" in _log(server)
    wait_until(lambda: "the job queue is reachable again" in _log(worker), 15, "the worker to reconnect")
    for process in (server_a, server_b, worker):
        assert "Traceback" not in _log(process), _log(process)


# --- the database drops every connection -----------------------------------------------------------


def _terminate_connections() -> int:
    """What a PostgreSQL restart does to clients: every connection to the test database but ours
    is closed by the server. Returns how many."""
    with db.engine.connect() as connection:
        killed = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar()
        connection.commit()
    return killed


def test_after_the_database_drops_every_connection_the_next_requests_succeed(
        needs_postgres, cabinet, make_user, cluster):  # noqa: F811
    room = build_room(cabinet, make_user)
    vote_id = live.open_vote(cabinet["pm"], room.meeting_id, question="Thông qua dự án Luật?").id
    server = cluster.server()
    voter = cluster.tablet(server, room.tokens["bt.tuphap"], "voter")
    join_all([voter], room.meeting_id)
    member = Api(server, room.tokens["bt.yte"])
    assert voter.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    assert member("GET", f"/votes/{vote_id}").status_code == 200  # the server's pool holds connections

    for _ in range(2):  # twice: a pool refilled after the first must recover again
        assert _terminate_connections() >= 1
        me = member("GET", "/me")
        assert me.status_code == 200 and me.json()["username"] == "bt.yte", me.text
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
    token = requests.post(f"{server.url}/api/v1/auth/token", timeout=10,
                          json={"username": "bt.tuphap", "password": PASSWORD})
    assert token.status_code == 201, token.text

    _terminate_connections()
    ack = voter.call("vote.cast", {"vote_id": vote_id, "choice": "against"})  # the socket's first query
    assert ack["ok"], ack
    cast = member("POST", f"/votes/{vote_id}/cast", json={"choice": "for"})
    assert cast.status_code == 200, cast.text
    assert sorted(ballots(vote_id)) == sorted([(room.user_ids["bt.tuphap"], "against"),
                                               (room.user_ids["bt.yte"], "for")])
    assert "Traceback" not in server.log_path.read_text(errors="replace"), server.log_tail(80)
