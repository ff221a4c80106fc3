"""Scale-out, as deployed: several web processes (``python app.py``, gevent) on one PostgreSQL
database and one Redis (a private ``redis-server``, see tests/cluster.py), with python-socketio
clients on each, and the job workers of docs/operations.md.

These tests run on PostgreSQL in both CI legs: on the suite's database when it runs on PostgreSQL,
on a scratch database otherwise (``needs_postgres``). Only the embedded mode's test (two processes
with in-app consumers sharing the SQLite job queue) runs on the leg's own database, SQLite or
PostgreSQL, as that mode is meant for both.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from cabinet.core.timeutil import utcnow
from cabinet.live import service as live
from tests.cluster import (  # noqa: F401  (fixtures)
    Api,
    app,
    cluster,
    meeting_document,
    needs_postgres,
    on_postgres,
    redis_server,
    rows,
    scratch_postgres,
    wait_until,
)
from tests.conftest import PASSWORD
from tests.test_live_server import build_room, join_all

# --- (a) a vote cast on one worker, seen on the other ---------------------------------------------


def test_a_vote_cast_through_worker_a_updates_the_tally_seen_on_worker_b(
        needs_postgres, cabinet, make_user, cluster, redis_server):  # noqa: F811
    room = build_room(cabinet, make_user)
    vote_id = live.open_vote(cabinet["pm"], room.meeting_id, question="Thông qua dự án Luật Đất đai?").id
    cluster.redis = redis_server
    worker_a, worker_b = cluster.start(servers=2)
    on_a = cluster.tablet(worker_a, room.tokens["bt.tuphap"], "member on A")
    on_b = cluster.tablet(worker_b, room.tokens["bt.yte"], "member on B")
    chair_on_b = cluster.tablet(worker_b, room.tokens[room.chair], "chair on B")
    join_all([on_a, on_b, chair_on_b], room.meeting_id)

    # A socket event on A, then the JSON API on A: B's clients see each tally.
    assert on_a.call("vote.cast", {"vote_id": vote_id, "choice": "for"})["ok"]
    tally = on_b.wait_for("vote.tally", lambda p: p["vote_id"] == vote_id and p["cast"] == 1)
    assert tally["counts"] == {"for": 1, "against": 0, "abstain": 0}
    chair_on_a = Api(worker_a, room.tokens[room.chair])
    cast = chair_on_a("POST", f"/votes/{vote_id}/cast", json={"choice": "against"})
    assert cast.status_code == 200, cast.text
    for tablet in (on_b, chair_on_b):
        tally = tablet.wait_for("vote.tally", lambda p: p["cast"] == 2)
        assert tally["counts"] == {"for": 1, "against": 1, "abstain": 0}
    # And B's own state agrees with what A wrote (one database).
    state = chair_on_b.call("meeting.state", {"meeting_id": room.meeting_id})["state"]
    assert state["open_vote"]["tally"]["counts"] == {"for": 1, "against": 1, "abstain": 0}


# --- (b) a recall through worker A, felt on worker B ----------------------------------------------------


def test_a_document_recalled_through_worker_a_is_refused_on_worker_b_and_closes_its_viewer(
        needs_postgres, cabinet, make_user, cluster, redis_server):  # noqa: F811
    room = build_room(cabinet, make_user)
    document_id = meeting_document(cabinet, room.meeting_id)
    cluster.redis = redis_server
    worker_a, worker_b = cluster.start(servers=2)
    reader = Api(worker_b, room.tokens["bt.tuphap"])
    opened = reader("GET", f"/documents/{document_id}/content")
    assert opened.status_code == 200 and opened.content.startswith(b"%PDF")
    viewer = cluster.tablet(worker_b, room.tokens["bt.tuphap"], "viewer on B")  # not in the room: a viewer
    in_room = cluster.tablet(worker_b, room.tokens["bt.yte"], "member in the room on B")
    outsider = cluster.tablet(worker_b, room.tokens["bt.khac"], "outsider on B")
    join_all([in_room], room.meeting_id)

    recalled = Api(worker_a, room.tokens["thuky"])("POST", f"/documents/{document_id}/recall",
                                                   json={"reason": "Sai số liệu phụ lục"})
    assert recalled.status_code == 200, recalled.text

    expected = {"meeting_id": room.meeting_id, "document_id": document_id}
    assert viewer.wait_for("document.recalled") == expected
    assert in_room.wait_for("document.recalled") == expected
    for path in (f"/documents/{document_id}/content", f"/documents/{document_id}"):
        refused = reader("GET", path)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "recalled", refused.text
    outsider.sync()
    assert outsider.events("document.recalled") == []


# --- (c) the ballot scheduler closes each ballot once ------------------------------------------------

BALLOTS = 6
RECIPIENTS = ("thutuong", "bt.tuphap", "bt.yte")  # usernames


def _issue_ballots(room, servers, recipient_ids: list[int], *, deadline_in: float) -> tuple[list[int], float]:
    """Draft and issue ``BALLOTS`` ballots through the API, alternating between the servers, all
    closing ``deadline_in`` seconds from now; returns their ids and the deadline (monotonic)."""
    deadline = (utcnow() + timedelta(seconds=deadline_in)).replace(microsecond=0) + timedelta(seconds=1)
    due = time.monotonic() + (deadline - utcnow()).total_seconds()
    ids = []
    for n in range(BALLOTS):
        api = Api(servers[n % len(servers)], room.tokens["thuky"])
        made = api("POST", "/ballots", json={
            "title": f"Dự thảo Nghị định số {n + 1}", "number": f"{n + 1}/PLYK-VPCP",
            "questions": ["Đồng ý thông qua dự thảo?"], "deadline": deadline.isoformat(),
            "recipient_ids": recipient_ids})
        assert made.status_code == 201, made.text
        issued = api("POST", f"/ballots/{made.json()['id']}/issue")
        assert issued.status_code == 200, issued.text
        ids.append(made.json()["id"])
        # One member answers each ballot, on the other server, before the deadline.
        answer = Api(servers[(n + 1) % len(servers)], room.tokens["bt.tuphap"])(
            "POST", f"/ballots/{made.json()['id']}/responses",
            json={"answers": [{"question_id": issued.json()["questions"][0]["id"], "choice": "agree"}],
                  "password": PASSWORD})
        assert answer.status_code == 201, answer.text
    assert time.monotonic() < due, "issuing took longer than the deadline allowed: raise deadline_in"
    return ids, due


def _closed(ids: list[int]) -> list[int]:
    return [ballot_id for (ballot_id,) in rows("SELECT id FROM ballots WHERE status = 'closed'")
            if ballot_id in ids]


def _assert_each_closed_once(ids: list[int], decider_id: int, recipient_ids: list[int]) -> None:
    closings = Counter(int(object_id) for (object_id,) in rows(
        "SELECT object_id FROM audit_entries WHERE action = 'ballot.closed' AND object_type = 'ballot'"))
    assert closings == Counter(ids), closings  # one ballot.closed entry each, and only these ballots
    for ballot_id, status, result in rows("SELECT id, status, result FROM ballots"):
        assert status == "closed" and result is not None, (ballot_id, status)
    notes = rows("SELECT user_id, kind, url FROM notifications "
                 "WHERE kind IN ('ballot.closed', 'ballot.issued')")
    by_kind = Counter((kind, user_id, url) for user_id, kind, url in notes)
    assert all(count == 1 for count in by_kind.values()), by_kind  # nobody told twice
    closed_notes = sorted((user_id, url) for user_id, kind, url in notes if kind == "ballot.closed")
    assert closed_notes == sorted((decider_id, f"/ballots/{i}") for i in ids)
    issued_notes = sorted((user_id, url) for user_id, kind, url in notes if kind == "ballot.issued")
    assert issued_notes == sorted((uid, f"/ballots/{i}") for i in ids for uid in recipient_ids)


def test_two_job_workers_on_redis_close_each_ballot_exactly_once(
        needs_postgres, cabinet, make_user, cluster, redis_server):  # noqa: F811
    room = build_room(cabinet, make_user)  # tokens for everyone
    recipients = [room.user_ids[name] for name in RECIPIENTS]
    cluster.redis = redis_server
    settings = {"CABINET_BALLOT_MIN_NOTICE_MINUTES": "0"}
    *web, worker_1, worker_2 = cluster.start(servers=2, workers=2, **settings)
    decider = cluster.tablet(web[1], room.tokens["thutuong"], "the Prime Minister on B")

    ids, due = _issue_ballots(room, web, recipients, deadline_in=5)
    wait_until(lambda: len(_closed(ids)) == BALLOTS, timeout=max(0, due - time.monotonic()) + 10,
               what=f"the {BALLOTS} ballots to close\n{cluster.logs()}")
    closed_after = time.monotonic() - due
    assert closed_after < 5, f"closed {closed_after:.1f} s after the deadline: not by the scheduled jobs"
    time.sleep(0.5)  # a duplicate closing, were there one, would land now
    _assert_each_closed_once(ids, room.user_ids["thutuong"], recipients)
    # The workers' notifications reach a browser connected to a web process, through Redis.
    for ballot_id in ids:
        decider.wait_for("notification.new", lambda p, b=ballot_id: p["kind"] == "ballot.closed"
                         and p["url"] == f"/ballots/{b}")
    decider.sync()
    assert len([p for p in decider.events("notification.new") if p["kind"] == "ballot.closed"]) == BALLOTS
    assert worker_1.running and worker_2.running, cluster.logs()


def test_two_processes_with_in_app_consumers_close_each_ballot_exactly_once(
        cabinet, make_user, cluster, app):  # noqa: F811
    """The embedded mode (no Redis): each ``python app.py`` runs a consumer on one shared SQLite job
    queue, on this leg's database (SQLite, or PostgreSQL)."""
    room = build_room(cabinet, make_user)
    recipients = [room.user_ids[name] for name in RECIPIENTS]
    settings = {"CABINET_BALLOT_MIN_NOTICE_MINUTES": "0",
                "CABINET_JOBS_FILE": str(cluster.workdir / "jobs.sqlite3")}
    web = cluster.start(servers=2, **settings)

    ids, due = _issue_ballots(room, web, recipients, deadline_in=5 if on_postgres(app) else 6)
    wait_until(lambda: len(_closed(ids)) == BALLOTS, timeout=max(0, due - time.monotonic()) + 10,
               what=f"the {BALLOTS} ballots to close\n{cluster.logs()}")
    closed_after = time.monotonic() - due
    assert closed_after < 5, f"closed {closed_after:.1f} s after the deadline: not by the scheduled jobs"
    time.sleep(0.5)
    _assert_each_closed_once(ids, room.user_ids["thutuong"], recipients)
