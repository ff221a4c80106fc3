"""A meeting day on PostgreSQL + Redis with several web processes, as production runs it: N meetings
at once, each with its tablets logging in, joining the room, opening the dossier, voting, annotating
and answering opinion ballots, next to a bare python-socketio server driven the same way in the same run.

    .venv/bin/python bench/load.py [--meetings 20] [--tablets 30] [--workers 2] [--rounds 3]
                                   [--duration 300] [--ramp 300] [--ballots 5] [--annotations 2]
                                   [--cheap-passwords] [--no-baseline] [--profile DIR] [--keep]

Needs the bench extra (``.venv/bin/pip install -e '.[bench]'``), PostgreSQL (``--database-url``: a
server database to connect to for CREATE DATABASE; default the local one, user postgres) and Redis
(``--redis-url``, default database 11: the run's keys and channels carry a per-run prefix).

1. **Setup** (not timed): creates the database ``cabinet_load_<timestamp>`` (dropped at the end
   unless ``--keep``), runs ``flask --app app db upgrade``, then through the services: a secretariat
   account and ``meetings × tablets`` distinct member accounts (one person per tablet: a person sits
   in one room at a time, and every socket of an account joins its ``user:<id>`` room, so sharing
   accounts between meetings would multiply the per-user broadcasts), ``--meetings`` meetings of
   ``--tablets`` participants (the first chairs, all vote) with three agenda items and one published
   PDF each (a small Tờ trình rendered by WeasyPrint, as ``flask demo`` makes), and ``--ballots``
   issued opinion ballots (two questions; ballot k goes to the participants of meeting k).
   Passwords use the production Argon2id profile (one precomputed hash: setup does not spend a
   minute hashing), unless ``--cheap-passwords`` (argon2-cffi's test profile, as the test suite).
2. **Servers**, as in deploy/systemd: ``--workers`` × ``gunicorn -c gunicorn.conf.py -k gevent -w 1``
   on their own ports with ``REDIS_URL``, the same ``SECRET_KEY``, ``CABINET_PROXIES=1`` (the clients
   send ``X-Forwarded-For`` as nginx does, so the per-address login limit sees one address per tablet)
   and the access log on; plus ``flask --app app jobs worker``. Each tablet has its own address and
   sticks to the worker its address hashes to (nginx ``ip_hash``-like stickiness; see
   docs/performance.md for the /24 caveat of the real ``ip_hash``): a meeting's tablets are spread
   over every worker, so room broadcasts cross Redis.
3. **The day**, all meetings at once. Each tablet arrives at a random moment within ``--ramp`` s,
   then, as the browser does: ``GET /login``, ``POST /login`` (the password check),
   ``GET /meetings/{id}/live``, a websocket with its session cookie, ``meeting.join``,
   ``attendance.check_in``. Once its room is complete the chair sends ``meeting.open`` and
   ``agenda.set_current``, and every tablet opens the dossier: ``GET /documents/{id}`` (the viewer
   page), ``GET /documents/{id}/content`` (the PDF) and ``GET /documents/{id}/annotations``. Then,
   over ``--duration`` s: ``--rounds`` votes (``vote.open`` by the chair; every participant sends
   ``vote.cast`` at a random moment within ``--spread`` s; ``vote.close`` once all are acknowledged),
   ``--annotations`` annotations per tablet at random moments (``POST /documents/{id}/annotations``
   with the page's CSRF token, the first shared with the meeting), and the ballots' recipients
   answering through the API (``POST /api/v1/auth/token``, ``GET /api/v1/ballots/{id}``,
   ``POST /api/v1/ballots/{id}/responses`` signed with the password). The chair closes the meeting.
4. **Measured**: per action the count, the errors (every status and acknowledgement is checked), the
   p50/p95/p99/max latency (HTTP: request to last byte; socket: emit to acknowledgement;
   ``vote.cast→all``: emit until the ``vote.tally`` that includes this ballot has reached every
   tablet of the room; ``annotation→all``: request until every other participant got
   ``annotation.shared``) and the rate (count / time from the first start to the last end); the
   day's wall time; the CPU time of each worker, the job worker, PostgreSQL, Redis and the clients
   (from /proc); the audit trail's advisory lock (sampled from ``pg_stat_activity``); and the
   clients' own event-loop lag (a busy client inflates every latency).
5. **Baseline**: the same day against ``--workers`` bare python-socketio servers (gevent, pywsgi,
   python-socketio's RedisManager on the same Redis): the same routes and events, answering from
   memory and Redis (the tally kept in a Redis hash) with no database, no password hashing, no
   templates, no access checks. The ratio ours / bare is what the application costs above the
   transport on this machine.

All processes share the machine's cores with the clients; ``--profile DIR`` samples each worker with
py-spy during the day (collapsed stacks in DIR, and a short summary of the hottest frames).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--serve-baseline" in sys.argv:
    # The baseline server process: gevent must patch the standard library before anything else.
    from gevent import monkey

    monkey.patch_all()

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "bench-password-2026"  # noqa: S105 (throw-away accounts in a throw-away database)
CSRF_FORM_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
CSRF_DATA_RE = re.compile(r'data-csrf-token="([^"]+)"')
SESSION_COOKIE = "cabinet_session"
CHOICES = ("for", "for", "against", "abstain")
DOSSIER_TEXT = ("Kính gửi: Chính phủ.\nThực hiện chương trình xây dựng luật, Bộ Nông nghiệp và Môi trường "
                "kính trình Chính phủ dự án Luật Đất đai (sửa đổi) với các nội dung chính về quy hoạch, "
                "giao đất, cho thuê đất và bồi thường khi thu hồi đất.")

# The actions in the order of the day, with what is timed.
ACTIONS = [
    ("page.login", "GET /login"),
    ("login", "POST /login: password check, session"),
    ("page.live", "GET /meetings/{id}/live"),
    ("socket.connect", "websocket + Socket.IO handshake"),
    ("meeting.join", "emit → ack (the room state)"),
    ("attendance.check_in", "emit → ack"),
    ("meeting.open", "chair: emit → ack"),
    ("agenda.set_current", "chair: emit → ack"),
    ("page.document", "GET /documents/{id} (viewer)"),
    ("document.content", "GET /documents/{id}/content (PDF)"),
    ("annotations.list", "GET /documents/{id}/annotations"),
    ("vote.open", "chair: emit → ack"),
    ("vote.cast", "emit → ack"),
    ("vote.cast→all", "emit → its tally on every tablet"),
    ("vote.close", "chair: emit → ack"),
    ("annotation.create", "POST /documents/{id}/annotations"),
    ("annotation→all", "POST → annotation.shared on all others"),
    ("api.token", "POST /api/v1/auth/token"),
    ("ballot.get", "GET /api/v1/ballots/{id}"),
    ("ballot.answer", "POST /api/v1/ballots/{id}/responses"),
    ("meeting.close", "chair: emit → ack"),
]


# --- the plan of the day (shared with the baseline servers as JSON) -------------------------------


@dataclass
class TabletSpec:
    index: int  # over the whole day
    meeting: int  # index into Plan.meetings
    user_id: int
    username: str
    ip: str  # the address nginx would see
    worker: int  # the worker its address hashes to


@dataclass
class MeetingSpec:
    meeting_id: int
    document_id: int
    document_size: int
    item_ids: list[int]
    tablets: list[int]  # indices into Plan.tablets, the chair first


@dataclass
class BallotSpec:
    ballot_id: int
    question_ids: list[int]
    meeting: int  # the participants of this meeting are its recipients


@dataclass
class Plan:
    meetings: list[MeetingSpec] = field(default_factory=list)
    ballots: list[BallotSpec] = field(default_factory=list)
    tablets: list[TabletSpec] = field(default_factory=list)
    documents: dict[int, str] = field(default_factory=dict)  # document id → a copy of its PDF (baseline)

    @classmethod
    def load(cls, path: Path) -> Plan:
        raw = json.loads(path.read_text())
        return cls(meetings=[MeetingSpec(**m) for m in raw["meetings"]],
                   ballots=[BallotSpec(**b) for b in raw["ballots"]],
                   tablets=[TabletSpec(**t) for t in raw["tablets"]],
                   documents={int(k): v for k, v in raw["documents"].items()})


def tablet_address(index: int) -> str:
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def worker_of(address: str, workers: int) -> int:
    """Sticky by address, as a hash-based upstream (nginx ip_hash, hash $remote_addr) does."""
    return zlib.crc32(address.encode()) % workers


# --- the baseline server --------------------------------------------------------------------------


def serve_baseline(port: int, plan_path: Path, redis_url: str, channel: str) -> None:
    """A bare python-socketio server behind the same routes and events: no database, no checks.
    Shared state (vote tallies, counters) lives in Redis, as several processes need."""
    import redis
    import socketio
    from gevent import pywsgi

    plan = Plan.load(plan_path)
    ids = {t.username: t.user_id for t in plan.tablets}
    people = {m.meeting_id: [plan.tablets[i].user_id for i in m.tablets] for m in plan.meetings}
    meeting_of_document = {m.document_id: m.meeting_id for m in plan.meetings}
    documents = {m.meeting_id: [{"id": m.document_id}] for m in plan.meetings}
    questions = {b.ballot_id: b.question_ids for b in plan.ballots}
    store = redis.Redis.from_url(redis_url)
    manager = socketio.RedisManager(redis_url, channel=channel)
    sio = socketio.Server(async_mode="gevent", client_manager=manager, cors_allowed_origins=None)
    users: dict[str, int] = {}  # sid → user id (a socket lives in one process)

    def cookie_user(environ) -> int | None:
        for part in environ.get("HTTP_COOKIE", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                return ids.get(value)
        return None

    @sio.on("connect")
    def connect(sid, environ, _auth=None):
        user_id = cookie_user(environ)
        if user_id is None:
            raise socketio.exceptions.ConnectionRefusedError("unauthenticated")
        users[sid] = user_id
        sio.enter_room(sid, f"user:{user_id}")

    @sio.on("disconnect")
    def disconnect(sid, *_args):
        users.pop(sid, None)

    def room(data) -> str:
        return f"meeting:{data['meeting_id']}"

    @sio.on("meeting.join")
    def join(sid, data):
        sio.enter_room(sid, room(data))
        return {"ok": True, "state": {"documents": documents[data["meeting_id"]], "open_vote": None}}

    @sio.on("attendance.check_in")
    def check_in(_sid, data):
        present = store.incr(f"{channel}:present:{data['meeting_id']}")
        sio.emit("attendance.changed", {"meeting_id": data["meeting_id"], "present": present}, to=room(data))
        return {"ok": True}

    @sio.on("meeting.open")
    def open_meeting(_sid, data):
        sio.emit("meeting.state", {"meeting_id": data["meeting_id"], "phase": "open"}, to=room(data))
        return {"ok": True}

    @sio.on("meeting.close")
    def close_meeting(_sid, data):
        sio.emit("meeting.state", {"meeting_id": data["meeting_id"], "phase": "closed"}, to=room(data))
        return {"ok": True}

    @sio.on("agenda.set_current")
    def set_current(_sid, data):
        sio.emit("agenda.current", {"meeting_id": data["meeting_id"], "item": {"id": data["item_id"]}},
                 to=room(data))
        return {"ok": True}

    @sio.on("vote.open")
    def open_vote(_sid, data):
        vote_id = int(store.incr(f"{channel}:votes"))
        store.set(f"{channel}:vote-meeting:{vote_id}", data["meeting_id"])
        vote = {"id": vote_id, "meeting_id": data["meeting_id"], "status": "open"}
        sio.emit("vote.opened", vote, to=room(data))
        return {"ok": True, "vote": vote}

    @sio.on("vote.cast")
    def cast(sid, data):
        vote_id = data["vote_id"]
        key = f"{channel}:vote:{vote_id}"
        store.hset(key, str(users[sid]), data["choice"])
        ballots = store.hgetall(key)
        meeting_id = int(store.get(f"{channel}:vote-meeting:{vote_id}"))
        sio.emit("vote.tally", {"vote_id": vote_id, "meeting_id": meeting_id, "cast": len(ballots),
                                "ballots": [{"user": {"id": int(u)}, "choice": c.decode()}
                                            for u, c in ballots.items()]}, to=f"meeting:{meeting_id}")
        return {"ok": True, "vote_id": vote_id, "choice": data["choice"]}

    @sio.on("vote.close")
    def close_vote(_sid, data):
        meeting_id = int(store.get(f"{channel}:vote-meeting:{data['vote_id']}"))
        vote = {"id": data["vote_id"], "meeting_id": meeting_id, "status": "closed"}
        sio.emit("vote.closed", vote, to=f"meeting:{meeting_id}")
        return {"ok": True, "vote": vote}

    def answer(start_response, status: str, body: bytes, content_type: str, extra=()):
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra])
        return [body]

    def html(start_response, inner: str):
        return answer(start_response, "200 OK", f"<!doctype html><html><body>{inner}</body></html>".encode(),
                      "text/html; charset=utf-8")

    def as_json(start_response, status: str, value):
        return answer(start_response, status, json.dumps(value).encode(), "application/json")

    def read_body(environ) -> bytes:
        return environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))

    def http(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        parts = path.strip("/").split("/")
        if path == "/login" and method == "GET":
            return html(start_response, '<form><input type="hidden" name="csrf_token" value="bare"></form>')
        if path == "/login" and method == "POST":
            form = dict(p.split("=", 1) for p in read_body(environ).decode().split("&") if "=" in p)
            nxt = environ.get("QUERY_STRING", "").partition("next=")[2] or "/"
            return answer(start_response, "302 Found", b"", "text/html",
                          [("Location", urllib.request.unquote(nxt)),
                           ("Set-Cookie", f"{SESSION_COOKIE}={form.get('username', '')}; Path=/; HttpOnly")])
        if len(parts) == 3 and parts[0] == "meetings" and parts[2] == "live":
            return html(start_response, f'<main data-meeting="{parts[1]}"></main>')
        if parts[0] == "documents" and len(parts) >= 2:
            document_id = int(parts[1])
            if len(parts) == 2:
                return html(start_response, f'<div data-url="/documents/{document_id}/content" '
                                            'data-csrf-token="bare"></div>')
            if parts[2] == "content":
                return answer(start_response, "200 OK", Path(plan.documents[document_id]).read_bytes(),
                              "application/pdf")
            if parts[2] == "annotations" and method == "GET":
                return as_json(start_response, "200 OK", {"annotations": [], "share_candidates": []})
            if parts[2] == "annotations" and method == "POST":
                body = json.loads(read_body(environ))
                author = cookie_user(environ)
                annotation = {"annotation_id": body["id"], "page": body["page"], "kind": body["kind"]}
                payload = {"document_id": document_id, "annotation": annotation}
                sio.emit("annotation.saved", payload, to=f"user:{author}")
                if body.get("visibility") == "meeting":
                    for user_id in people[meeting_of_document[document_id]]:
                        if user_id != author:
                            sio.emit("annotation.shared", payload, to=f"user:{user_id}")
                return as_json(start_response, "201 Created", annotation)
        if path == "/api/v1/auth/token" and method == "POST":
            body = json.loads(read_body(environ))
            return as_json(start_response, "201 Created", {"token": f"bare-{body['username']}"})
        if len(parts) >= 4 and parts[:3] == ["api", "v1", "ballots"]:
            ballot_id = int(parts[3])
            if len(parts) == 4 and method == "GET":
                return as_json(start_response, "200 OK", {"id": ballot_id, "questions": [
                    {"id": q} for q in questions[ballot_id]]})
            if len(parts) == 5 and parts[4] == "responses" and method == "POST":
                read_body(environ)
                responded = store.incr(f"{channel}:responded:{ballot_id}")
                sio.emit("ballot.progress", {"ballot_id": ballot_id, "responded": responded},
                         to=f"ballot:{ballot_id}")
                return as_json(start_response, "201 Created", {"id": responded})
        if path == "/readyz":
            return as_json(start_response, "200 OK", {"status": "ok"})
        return as_json(start_response, "404 Not Found", {"error": {"code": "not_found"}})

    # TCP_NODELAY, as gunicorn sets on its listening socket (accepted sockets inherit it): without it
    # an acknowledgement written right after a broadcast waits for the client's delayed ACK (~40 ms).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(2048)
    pywsgi.WSGIServer(listener, socketio.WSGIApp(sio, http), log=None).serve_forever()


# --- setup -----------------------------------------------------------------------------------------


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE on the server of ``server_url``; returns the new database's URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def demo_pdf(title: str, body: str) -> bytes:
    from cabinet.demo import _demo_pdf

    return _demo_pdf(title, body).getvalue()


def prepare(args, scratch: Path) -> Plan:
    """Accounts, meetings, agenda, dossiers and ballots through the application's services."""
    from cabinet import create_app
    from cabinet.auth import passwords
    from cabinet.ballots import service as ballots
    from cabinet.core.timeutil import utcnow
    from cabinet.documents import service as documents
    from cabinet.extensions import db
    from cabinet.meetings import service as meetings
    from cabinet.users import service as users

    # One hash made with the profile the servers use, given to every account: the servers verify
    # at the production cost, the setup does not spend 0.13 s per account computing hashes.
    shared_hash = passwords.hash_password(PASSWORD)
    real_hash_password, users.hash_password = users.hash_password, lambda _password: shared_hash
    plan = Plan()
    # The setup's own audit and request lines would bury the report: warnings only, in this process.
    app = create_app({"SOCKETIO_ASYNC_MODE": "threading", "CABINET_LOG_LEVEL": "WARNING"})
    try:
        with app.app_context():
            secretary = users.create_user(None, users.UserData(
                username="thuky", full_name="Trần Thị Thu Hà", role="secretariat", clearance="mat",
                organisation="Văn phòng Chính phủ", title="Chuyên viên"), PASSWORD)
            starts = (utcnow() + timedelta(minutes=30)).replace(microsecond=0)
            for m in range(args.meetings):
                people = []
                for t in range(args.tablets):
                    user = users.create_user(None, users.UserData(
                        username=f"h{m:03d}.tv{t:03d}", full_name=f"Thành viên {m + 1:02d}.{t + 1:02d}",
                        role="member", clearance="mat", organisation=f"Bộ thử nghiệm {m + 1:02d}",
                        title="Chủ tọa" if t == 0 else "Thành viên"), PASSWORD)
                    index = len(plan.tablets)
                    address = tablet_address(index + 1)
                    plan.tablets.append(TabletSpec(index=index, meeting=m, user_id=user.id,
                                                   username=user.username, ip=address,
                                                   worker=worker_of(address, args.workers)))
                    people.append(user)
                participants = {u.id: "member" for u in people[1:]}
                participants[people[0].id] = "chair"
                meeting = meetings.create_meeting(secretary, meetings.MeetingData(
                    title=f"Phiên họp thử tải số {m + 1:02d}", starts_at=starts,
                    ends_at=starts + timedelta(hours=3), place=f"Phòng họp {m + 1:02d}",
                    participants=participants))
                items = [meetings.add_item(secretary, meeting.id, meetings.AgendaItemData(title=title))
                         for title in ("Dự án Luật Đất đai (sửa đổi)", "Dự thảo Nghị định về ngân sách",
                                       "Báo cáo kinh tế - xã hội tháng")]
                pdf = demo_pdf(f"TỜ TRÌNH số {m + 1:02d} về dự án Luật Đất đai (sửa đổi)", DOSSIER_TEXT)
                document = documents.upload_document(
                    secretary, meeting.id, title=f"Tờ trình số {m + 1:02d} về dự án Luật Đất đai (sửa đổi)",
                    doc_type="to_trinh", secrecy="none", urgency="none", agenda_item_id=items[0].id,
                    filename=f"to-trinh-{m + 1:02d}.pdf", stream=io.BytesIO(pdf))
                documents.publish(secretary, document.id)
                copy = scratch / "documents" / f"{document.id}.pdf"
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(pdf)
                plan.documents[document.id] = str(copy)
                plan.meetings.append(MeetingSpec(meeting_id=meeting.id, document_id=document.id,
                                                 document_size=len(pdf), item_ids=[i.id for i in items],
                                                 tablets=[len(plan.tablets) - args.tablets + t
                                                          for t in range(args.tablets)]))
            for b in range(args.ballots):
                m = b % args.meetings
                recipients = [plan.tablets[i].user_id for i in plan.meetings[m].tablets]
                ballot = ballots.create_ballot(secretary, ballots.BallotData(
                    title=f"Phiếu lấy ý kiến thử tải số {b + 1}", number=f"{b + 1}/PLYK-TT",
                    questions=["Đồng ý thông qua dự thảo Nghị định?",
                               "Đồng ý giao Bộ chủ trì hoàn thiện dự thảo, trình ký ban hành?"],
                    summary="Xin ý kiến thành viên về dự thảo Nghị định.", recipient_ids=recipients,
                    decider_id=recipients[0]))
                ballot = ballots.issue_ballot(secretary, ballot.id)
                plan.ballots.append(BallotSpec(ballot_id=ballot.id, meeting=m,
                                               question_ids=[q.id for q in ballot.questions]))
            db.session.commit()
            db.engine.dispose()
    finally:
        users.hash_password = real_hash_password
    return plan


# --- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    log: Path
    port: int | None = None

    def pids(self) -> list[int]:
        """The process and its children (gunicorn: the master and its worker)."""
        return [self.process.pid, *children(self.process.pid)]

    def worker_pid(self) -> int:
        kids = children(self.process.pid)
        return kids[0] if kids else self.process.pid


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return found + [grandchild for child in found for grandchild in children(child)]


def launch(name: str, command: list[str], env: dict, log: Path, port: int | None) -> Server:
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Server(name, process, log, port)


def wait_ready(server: Server, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited: see {server.log}:\n{tail(server.log)}")
        if server.port is None:
            time.sleep(1.0)  # the job worker: alive after a second is all we can see
            if server.process.poll() is None:
                return
            continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/readyz", timeout=5) as answer:  # noqa: S310
                gunicorn_ready = not server.name.startswith("worker") or children(server.process.pid)
                if answer.status == 200 and gunicorn_ready:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    stop(server)
    raise SystemExit(f"{server.name} did not start: see {server.log}:\n{tail(server.log)}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_ours(args, env: dict, scratch: Path) -> tuple[list[Server], list[Server]]:
    """The web workers (gunicorn, as deploy/systemd/ecabinet-web@.service) and the job worker."""
    workers, others = [], []
    for n in range(args.workers):
        port = free_port()
        runtime = scratch / f"run-{n + 1}"
        runtime.mkdir(exist_ok=True)
        command = [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"),
                   "--worker-class", "gevent", "--workers", "1", "--bind", f"127.0.0.1:{port}",
                   "--forwarded-allow-ips", "127.0.0.1,::1", "--graceful-timeout", "30",
                   "--access-logfile", "-", "--error-logfile", "-", "app:app"]
        workers.append(launch(f"worker {n + 1}", command, {**env, "XDG_RUNTIME_DIR": str(runtime)},
                              scratch / f"ours-worker-{n + 1}.log", port))
    command = [str(VENV_BIN / "flask"), "--app", "app", "jobs", "worker", "--workers", "2"]
    others.append(launch("jobs worker", command, env, scratch / "ours-jobs.log", None))
    for server in [*workers, *others]:
        wait_ready(server)
    return workers, others


def start_bare(args, env: dict, scratch: Path, plan_path: Path, channel: str) -> list[Server]:
    servers = []
    for n in range(args.workers):
        port = free_port()
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", str(port),
                   "--plan", str(plan_path), "--redis-url", args.redis_url, "--channel", channel]
        servers.append(launch(f"bare {n + 1}", command, env, scratch / f"bare-{n + 1}.log", port))
    for server in servers:
        wait_ready(server)
    return servers


# --- measuring -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuWatch:
    """CPU seconds of named groups of processes between start() and stop()."""

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups  # name → function giving the pids now
        self.before: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}
        self.machine = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()}

    def start(self) -> None:
        self.before = self._read()
        self.machine_before = machine_busy()
        self.started = time.perf_counter()

    def stop(self) -> None:
        after = self._read()
        self.wall = time.perf_counter() - self.started
        busy, total = machine_busy()
        self.machine = (busy - self.machine_before[0]) / max(1, total - self.machine_before[1])
        for name, now in after.items():
            # Processes that started meanwhile count from zero; those that ended are lost (none here).
            self.used[name] = sum(seconds - self.before[name].get(pid, 0.0) for pid, seconds in now.items())


class LockSampler(threading.Thread):
    """Samples pg_stat_activity for the bench database: backends waiting for the audit trail's
    advisory lock (cabinet/audit/service.py, taken by every audited write until its commit), any
    lock, running a query, idle inside a transaction; and what the lock's holder is doing."""

    QUERY = (
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'),"
        " count(*) FILTER (WHERE wait_event_type = 'Lock'),"
        " count(*) FILTER (WHERE state = 'active'),"
        " count(*) FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')),"
        " count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()")
    HOLDER = (
        "SELECT a.state, extract(epoch FROM now() - a.state_change), left(a.query, 70)"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = %s")

    def __init__(self, database_url: str, name: str, every: float = 0.1, csv: Path | None = None):
        super().__init__(daemon=True)
        self.url, self.name, self.every, self.csv = database_url, name, every, csv
        self.samples: list[tuple] = []  # (t, advisory waiters, lock waiters, active, idle in tx, connections,
        #                                  holder state, holder seconds in that state, holder's last query)
        self.halt = threading.Event()

    def run(self) -> None:
        import psycopg

        started = time.perf_counter()
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.halt.is_set():
                counts = conn.execute(self.QUERY, (self.name,)).fetchone()
                holder = conn.execute(self.HOLDER, (self.name,)).fetchone() or (None, None, None)
                self.samples.append((round(time.perf_counter() - started, 2), *counts, holder[0],
                                     float(holder[1]) if holder[1] is not None else None, holder[2]))
                self.halt.wait(self.every)
        if self.csv is not None:
            import csv

            with open(self.csv, "w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["t", "advisory_waiters", "lock_waiters", "active", "idle_in_transaction",
                                 "connections", "holder_state", "holder_seconds_in_state", "holder_query"])
                writer.writerows(self.samples)

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        advisory = [s[1] for s in self.samples]
        columns = list(zip(*self.samples, strict=True))
        contended = [s for s in self.samples if s[1]]
        text = (f"{len(self.samples)} samples of pg_stat_activity every {self.every * 1000:.0f} ms: "
                f"backends waiting for the audit advisory lock mean {statistics.mean(advisory):.2f}, "
                f"max {max(advisory)}, ≥ 1 waiting in {len(contended) / len(advisory) * 100:.0f} % of "
                f"samples; "
                f"waiting for any lock mean {statistics.mean(columns[2]):.2f}; running a query mean "
                f"{statistics.mean(columns[3]):.2f} "
                f"(max {max(columns[3])}); idle in transaction mean {statistics.mean(columns[4]):.2f}; "
                f"connections max {max(columns[5])}")
        if contended:
            states = Counter(s[6] for s in contended)
            idle = sorted(s[7] for s in contended if s[6] and s[6].startswith("idle in transaction"))
            queries = Counter(s[8] for s in contended if s[6] and s[6].startswith("idle in transaction"))
            text += ("\n  while someone waited, the lock's holder was: "
                     + ", ".join(f"{state or 'unknown'} {n / len(contended) * 100:.0f} %"
                                 for state, n in states.most_common()))
            if idle:
                text += (f"; idle in its transaction for p50 {percentile(idle, 50) * 1000:.0f} ms, max "
                         f"{idle[-1] * 1000:.0f} ms after: "
                         + "; ".join(f"{q!r} ×{n}" for q, n in queries.most_common(3)))
        return text


def audit_head(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT coalesce(max(seq), 0) FROM audit_entries").fetchone()[0]


def audit_rate(database_url: str, after_seq: int) -> str:
    """How fast the audit trail grew during the day: every audited write passes its one lock."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        per_second = [row[0] for row in conn.execute(
            "SELECT count(*) FROM audit_entries WHERE seq > %s GROUP BY date_trunc('second', at)",
            (after_seq,))]
        actions = conn.execute("SELECT action, count(*) FROM audit_entries WHERE seq > %s GROUP BY action "
                               "ORDER BY 2 DESC LIMIT 6", (after_seq,)).fetchall()
    if not per_second:
        return "audit trail: no entries during the day"
    top = sorted(per_second)
    kinds = ", ".join(f"{action} {n}" for action, n in actions)
    return (f"audit trail: {sum(per_second)} entries during the day ({kinds}…); entries per second (seconds "
            f"with any): median {percentile(top, 50):.0f}, p95 {percentile(top, 95):.0f}, max {top[-1]}")


class Recorder:
    """Latencies and errors per action, and the window each action was active in."""

    def __init__(self):
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def ok(self, action: str, started: float, ended: float | None = None) -> None:
        ended = time.perf_counter() if ended is None else ended
        self.samples[action].append(ended - started)
        self.first[action] = min(self.first.get(action, started), started)
        self.last[action] = max(self.last.get(action, ended), ended)

    def fail(self, action: str, message: str) -> None:
        self.errors[action].append(message)

    def rate(self, action: str) -> float:
        span = self.last.get(action, 0) - self.first.get(action, 0)
        return len(self.samples[action]) / span if span > 0 else float("nan")

    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- the tablets -----------------------------------------------------------------------------------


class Room:
    """One meeting's tablets, and who has seen which ballot and which shared annotation."""

    def __init__(self, spec: MeetingSpec, recorder: Recorder):
        self.spec, self.recorder = spec, recorder
        self.devices: list[Device] = []
        self.casts: dict[tuple[int, int], list] = {}  # (vote, voter) → [emitted at, tablets that saw it]
        self.shared: dict[str, list] = {}  # annotation id → [posted at, tablets that saw it]
        self.settled = asyncio.Event()

    def _check_settled(self) -> None:
        if not any(entry[1] is not None for entry in (*self.casts.values(), *self.shared.values())):
            self.settled.set()

    def cast_sent(self, vote_id: int, voter_id: int, at: float) -> None:
        self.settled.clear()
        self.casts[(vote_id, voter_id)] = [at, 0]

    def saw_ballot(self, vote_id: int, voter_id: int, at: float) -> None:
        entry = self.casts.get((vote_id, voter_id))
        if entry is None or entry[1] is None:
            return
        entry[1] += 1
        if entry[1] >= len(self.devices):
            self.recorder.ok("vote.cast→all", entry[0], at)
            entry[1] = None
            self._check_settled()

    def annotation_posted(self, annotation_id: str, at: float) -> None:
        self.settled.clear()
        self.shared[annotation_id] = [at, 0]

    def saw_annotation(self, annotation_id: str, at: float) -> None:
        entry = self.shared.get(annotation_id)
        if entry is None or entry[1] is None:
            return
        entry[1] += 1
        if entry[1] >= len(self.devices) - 1:
            self.recorder.ok("annotation→all", entry[0], at)
            entry[1] = None
            self._check_settled()

    async def settle(self, timeout: float) -> None:
        """Wait until every broadcast expected has reached everyone; count the rest as errors."""
        self._check_settled()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled.wait(), timeout)
        for (vote_id, voter), entry in self.casts.items():
            if entry[1] is not None:
                self.recorder.fail("vote.cast→all", f"vote {vote_id}: the ballot of user {voter} reached "
                                   f"{entry[1]} of {len(self.devices)} tablets in {timeout:.0f} s")
        for annotation_id, entry in self.shared.items():
            if entry[1] is not None:
                self.recorder.fail("annotation→all", f"annotation {annotation_id} reached {entry[1]} of "
                                   f"{len(self.devices) - 1} others in {timeout:.0f} s")
        self.casts.clear()
        self.shared.clear()


def summary(body: str | bytes) -> str:
    """An error answer in a few words: a page's title, an API error's code, else the start."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    if title := re.search(r"<title>(.*?)</title>", text, re.S):
        return title.group(1).strip()
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return f"error {json.loads(text)['error']['code']}"
    return " ".join(text.split())[:160]


class Device:
    """One tablet: its own cookie session over HTTP and its own websocket, on its sticky worker."""

    def __init__(self, spec: TabletSpec, url: str, room: Room, recorder: Recorder, timeout: float):
        import aiohttp
        import socketio

        self.spec, self.url, self.room, self.recorder, self.timeout = spec, url, room, recorder, timeout
        self.http = aiohttp.ClientSession(
            base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"X-Forwarded-For": spec.ip, "X-Forwarded-Proto": "http", "User-Agent": "cabinet-load"},
            timeout=aiohttp.ClientTimeout(total=timeout),
            # An idle connection is dropped before gunicorn's keep-alive (2 s) closes it: reusing
            # one the server is closing fails a POST with "Server disconnected" (a browser retries
            # there; this client does not). Measured once in a day of 11,400 actions.
            connector=aiohttp.TCPConnector(limit=6, keepalive_timeout=1.5))
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("vote.tally", self._on_tally)
        self.sio.on("annotation.shared", self._on_shared)
        self.sio.on("disconnect", self._on_disconnect)
        self.seen: dict[int, set[int]] = defaultdict(set)
        self.in_room = False
        self.closing = False
        self.dropped = 0
        self.csrf: str | None = None

    # events from the server

    def _on_tally(self, data) -> None:
        at = time.perf_counter()
        seen = self.seen[data["vote_id"]]
        for ballot in data.get("ballots") or ():
            voter = ballot["user"]["id"]
            if voter not in seen:
                seen.add(voter)
                self.room.saw_ballot(data["vote_id"], voter, at)

    def _on_shared(self, data) -> None:
        self.room.saw_annotation(data["annotation"]["annotation_id"], time.perf_counter())

    def _on_disconnect(self, *_reason) -> None:
        if not self.closing:
            self.dropped += 1
            self.recorder.fail("socket.dropped", f"tablet {self.spec.username} lost its websocket")

    # timed steps

    async def request(self, action: str, method: str, path: str, *, expect: int, read: str = "text",
                      **kwargs):
        started = time.perf_counter()
        try:
            async with self.http.request(method, path, allow_redirects=False, **kwargs) as response:
                body = await (response.read() if read == "bytes" else response.text())
                if response.status != expect:
                    raise RuntimeError(f"HTTP {response.status} (expected {expect}): {summary(body)}")
                result = (json.loads(body) if read == "json" else body), response
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            self.recorder.fail(action, f"{type(error).__name__}: {error}")
            return None, None
        self.recorder.ok(action, started)
        return result

    async def emit(self, action: str, event: str, data: dict):
        started = time.perf_counter()
        try:
            ack = await self.sio.call(event, data, timeout=self.timeout)
        except Exception as error:  # noqa: BLE001
            self.recorder.fail(action, f"{type(error).__name__}: {error}")
            return None
        if not isinstance(ack, dict) or not ack.get("ok"):
            self.recorder.fail(action, f"refused: {ack}")
            return None
        self.recorder.ok(action, started)
        return ack

    async def arrive(self, delay: float) -> None:
        """Log in, open the live page, connect, join the room and check in."""
        await asyncio.sleep(delay)
        meeting_id = self.room.spec.meeting_id
        page, _ = await self.request("page.login", "GET", "/login", expect=200)
        token = CSRF_FORM_RE.search(page or "")
        if token is None:
            if page is not None:
                self.recorder.fail("page.login", "no csrf_token in the login page")
            return
        live = f"/meetings/{meeting_id}/live"
        _, response = await self.request("login", "POST", f"/login?next={live}", expect=302, data={
            "csrf_token": token.group(1), "username": self.spec.username, "password": PASSWORD})
        if response is None:
            return
        if not response.headers.get("Location", "").endswith(live):
            self.recorder.fail("login", f"redirected to {response.headers.get('Location')}")
            return
        page, _ = await self.request("page.live", "GET", live, expect=200)
        if page is None:
            return
        # The browser sends its session cookie with the websocket handshake ("__Host-" prefixed behind TLS).
        cookie = next((f"{c.key}={c.value}" for c in self.http.cookie_jar if c.key.endswith(SESSION_COOKIE)),
                      "")
        started = time.perf_counter()
        try:
            await self.sio.connect(self.url, headers={"Cookie": cookie,
                                                      "X-Forwarded-For": self.spec.ip},
                                   transports=["websocket"], wait_timeout=self.timeout)
        except Exception as error:  # noqa: BLE001
            self.recorder.fail("socket.connect", f"{type(error).__name__}: {error}")
            return
        self.recorder.ok("socket.connect", started)
        ack = await self.emit("meeting.join", "meeting.join", {"meeting_id": meeting_id})
        if ack is None:
            return
        documents = [d["id"] for d in ack["state"]["documents"]]
        if documents != [self.room.spec.document_id]:
            self.recorder.fail("meeting.join", f"documents in the state: {documents}")
            return
        self.in_room = True
        await self.emit("attendance.check_in", "attendance.check_in", {"meeting_id": meeting_id})

    async def open_document(self, delay: float) -> None:
        await asyncio.sleep(delay)
        document_id = self.room.spec.document_id
        page, _ = await self.request("page.document", "GET", f"/documents/{document_id}", expect=200)
        token = CSRF_DATA_RE.search(page or "")
        if token is None:
            if page is not None:
                self.recorder.fail("page.document", "no data-csrf-token in the viewer page")
            return
        self.csrf = token.group(1)
        started = time.perf_counter()
        pdf, _ = await self.request("document.content", "GET", f"/documents/{document_id}/content",
                                    expect=200, read="bytes",
                                    headers={"Accept": "application/json, application/pdf;q=0.9"})
        if pdf is not None and (not pdf.startswith(b"%PDF") or len(pdf) != self.room.spec.document_size):
            self.recorder.samples["document.content"].pop()
            self.recorder.fail("document.content", f"not the PDF: {len(pdf)} bytes, started {pdf[:8]!r} "
                                                   f"({time.perf_counter() - started:.2f} s)")
        await self.request("annotations.list", "GET", f"/documents/{document_id}/annotations", expect=200,
                           read="json", headers={"Accept": "application/json"})

    async def annotate(self, delay: float, shared: bool, rng: random.Random) -> None:
        await asyncio.sleep(delay)
        if self.csrf is None:
            return
        annotation_id = uuid.uuid4().hex
        if shared:
            body = {"id": annotation_id, "kind": "note", "page": 1, "colour": "yellow",
                    "point": [round(rng.random(), 3), round(rng.random(), 3)],
                    "body": "Đề nghị làm rõ phạm vi điều chỉnh tại Điều 5.", "visibility": "meeting"}
            self.room.annotation_posted(annotation_id, time.perf_counter())
        else:
            x, y = rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.9)
            body = {"id": annotation_id, "kind": "pen", "page": 1, "colour": "red",
                    "strokes": [{"points": [[round(x + i * 0.01, 4), round(y + (i % 3) * 0.002, 4)]
                                            for i in range(40)], "width": 0.003}]}
        saved, _ = await self.request("annotation.create", "POST",
                                      f"/documents/{self.room.spec.document_id}/annotations", expect=201,
                                      read="json", json=body,
                                      headers={"X-CSRFToken": self.csrf, "Accept": "application/json"})
        if saved is None:
            self.room.shared.pop(annotation_id, None)  # refused: nothing to wait for

    async def cast(self, vote_id: int, delay: float, choice: str) -> None:
        await asyncio.sleep(delay)
        self.room.cast_sent(vote_id, self.spec.user_id, time.perf_counter())
        if await self.emit("vote.cast", "vote.cast", {"vote_id": vote_id, "choice": choice}) is None:
            self.room.casts.pop((vote_id, self.spec.user_id), None)  # refused: nothing to wait for

    async def answer_ballot(self, ballot: BallotSpec, delay: float) -> None:
        await asyncio.sleep(delay)
        body, _ = await self.request("api.token", "POST", "/api/v1/auth/token", expect=201, read="json",
                                     json={"username": self.spec.username, "password": PASSWORD,
                                           "label": "load bench"})
        if body is None:
            return
        auth = {"Authorization": f"Bearer {body['token']}", "Accept": "application/json"}
        ballot_body, _ = await self.request("ballot.get", "GET", f"/api/v1/ballots/{ballot.ballot_id}",
                                            expect=200, read="json", headers=auth)
        if ballot_body is None:
            return
        answers = [{"question_id": q["id"], "choice": "agree"} for q in ballot_body["questions"]]
        await self.request("ballot.answer", "POST", f"/api/v1/ballots/{ballot.ballot_id}/responses",
                           expect=201, read="json", headers=auth,
                           json={"answers": answers, "password": PASSWORD})

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            if self.sio.connected:
                await self.sio.disconnect()
        await self.http.close()


async def run_meeting(room: Room, devices: list[Device], ballots: list[BallotSpec], args,
                      rng: random.Random) -> None:
    spec, recorder = room.spec, room.recorder
    await asyncio.gather(*(d.arrive(rng.uniform(0, args.ramp)) for d in devices))
    room.devices = [d for d in devices if d.in_room]
    chair = devices[0]
    if not chair.in_room:
        recorder.fail("meeting", f"meeting {spec.meeting_id}: the chair never joined; skipped")
        return
    if await chair.emit("meeting.open", "meeting.open", {"meeting_id": spec.meeting_id}) is None:
        return
    await chair.emit("agenda.set_current", "agenda.set_current",
                     {"meeting_id": spec.meeting_id, "item_id": spec.item_ids[0]})
    await asyncio.gather(*(d.open_document(rng.uniform(0, 2)) for d in room.devices))

    session = time.perf_counter()
    window = max(args.duration, 1.0)
    side = [d.annotate(rng.uniform(0, window), k == 0, rng)
            for d in room.devices for k in range(args.annotations)]
    side += [d.answer_ballot(ballot, rng.uniform(0, window)) for ballot in ballots for d in room.devices]
    side_tasks = [asyncio.ensure_future(step) for step in side]
    for round_ in range(args.rounds):
        await asyncio.sleep(max(0.0, session + round_ * args.duration / args.rounds - time.perf_counter()))
        opened = await chair.emit("vote.open", "vote.open", {"meeting_id": spec.meeting_id,
                                                              "question": f"Biểu quyết số {round_ + 1}"})
        if opened is None:
            break
        vote_id = opened["vote"]["id"]
        await asyncio.gather(*(d.cast(vote_id, rng.uniform(0, args.spread), rng.choice(CHOICES))
                               for d in room.devices))
        await room.settle(args.timeout)
        await chair.emit("vote.close", "vote.close", {"vote_id": vote_id})
    await asyncio.gather(*side_tasks)
    await room.settle(args.timeout)
    await chair.emit("meeting.close", "meeting.close", {"meeting_id": spec.meeting_id})


@dataclass
class DayResult:
    name: str
    recorder: Recorder
    wall: float = 0.0
    cpu: CpuWatch | None = None
    lag: list[float] = field(default_factory=list)
    locks: str = ""
    per_worker: Counter = field(default_factory=Counter)
    dropped: int = 0
    profiles: list[Path] = field(default_factory=list)


async def run_day(name: str, plan: Plan, urls: list[str], args, cpu: CpuWatch,
                  sampler: LockSampler | None, profilers: list) -> DayResult:
    recorder = Recorder()
    result = DayResult(name, recorder)
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible day, not a secret
    rooms = [Room(spec, recorder) for spec in plan.meetings]
    devices = {t.index: Device(t, urls[t.worker], rooms[t.meeting], recorder, args.timeout)
               for t in plan.tablets}
    result.per_worker = Counter(t.worker for t in plan.tablets)
    by_meeting = defaultdict(list)
    for ballot in plan.ballots:
        by_meeting[ballot.meeting].append(ballot)

    running = True

    async def watch_lag():
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.05)
            result.lag.append(time.perf_counter() - before - 0.05)

    lag_task = asyncio.ensure_future(watch_lag())
    cpu.start()
    if sampler is not None:
        sampler.start()
    started = time.perf_counter()
    try:
        await asyncio.gather(*(run_meeting(room, [devices[i] for i in room.spec.tablets], by_meeting[m], args,
                                           rng) for m, room in enumerate(rooms)))
    finally:
        result.wall = time.perf_counter() - started
        cpu.stop()
        result.cpu = cpu
        if sampler is not None:
            sampler.halt.set()
            sampler.join(5)
            result.locks = sampler.summary()
        for profiler in profilers:
            stop_profiler(profiler)
        running = False
        await lag_task
        result.dropped = sum(d.dropped for d in devices.values())
        await asyncio.gather(*(d.close() for d in devices.values()), return_exceptions=True)
    return result


# --- profiling -----------------------------------------------------------------------------------


def start_profiler(pid: int, output: Path) -> subprocess.Popen:
    py_spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",  # noqa: S603
                             "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop_profiler(profiler: subprocess.Popen) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        profiler.wait(timeout=60)
    except subprocess.TimeoutExpired:
        profiler.kill()


FRAME_RE = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def profile_summary(path: Path, top: int = 14) -> list[str]:
    """From py-spy's collapsed stacks: the application's functions present in the most samples
    (inclusive), then the functions the samples were in (self), in this app or its libraries."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return [f"(no profile at {path})"]
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        names = []
        for frame in stack.split(";"):
            match = FRAME_RE.match(frame.strip())
            if match is None:
                continue
            file = match["file"]
            short = file.split("site-packages/")[-1]
            if short == file:
                short = file.removeprefix(f"{ROOT}/")
            names.append(f"{match['function']} ({short})")
        for name in set(names):
            if name.endswith(".py)") and "(cabinet/" in name:
                inclusive[name] += int(count)
        if names:
            own[names[-1]] += int(count)
    if not total:
        return ["(empty profile)"]
    out = [f"{total} samples while on CPU; the application's functions (inclusive):"]
    out += [f"  {c / total * 100:5.1f} %  {n}" for n, c in inclusive.most_common(top)]
    out += ["where the CPU was (self):"]
    out += [f"  {c / total * 100:5.1f} %  {n}" for n, c in own.most_common(top)]
    return out


# --- the report ----------------------------------------------------------------------------------


def environment(args, database_url: str | None) -> list[str]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "-"

    cpu_model = next((line.split(":", 1)[1].strip()
                      for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    lines = [f"machine: {os.cpu_count()} CPUs ({cpu_model}), {int(memory) // 1024} MB RAM, "
             f"{platform.system()} {platform.release()}, Python {platform.python_version()}"]
    packages = ["Flask", "Flask-SocketIO", "python-socketio", "python-engineio", "simple-websocket", "gevent",
                "gunicorn", "SQLAlchemy", "psycopg", "redis", "huey", "argon2-cffi", "aiohttp"]
    lines.append("packages: " + ", ".join(f"{p} {version(p)}" for p in packages))
    servers = []
    if database_url:
        with contextlib.suppress(Exception):
            import psycopg

            with psycopg.connect(database_url) as conn:
                servers.append("PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0])
    with contextlib.suppress(Exception):
        import redis

        servers.append("Redis " + redis.Redis.from_url(args.redis_url).info("server")["redis_version"])
    profile = ("CHEAPEST (argon2-cffi's test profile)" if args.cheap_passwords
               else "RFC_9106_LOW_MEMORY (production)")
    lines.append(f"servers: {', '.join(servers)}; password hashing: {profile}")
    with contextlib.suppress(Exception):  # read-only git: which code was measured
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,  # noqa: S603,S607
                                text=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,  # noqa: S603,S607
                                 capture_output=True, text=True).stdout.splitlines()
        lines.append(f"code: commit {commit}" + (f" with {len(changed)} files changed in the working tree"
                                                   if changed else ""))
    return lines


def fmt(value: float, width: int = 7, digits: int = 0) -> str:
    return f"{value:>{width}.{digits}f}" if value == value else f"{'-':>{width}}"  # NaN → "-"


def action_rows(ours: DayResult, bare: DayResult | None) -> list[list[str]]:
    """One row per action: what, n, errors, p50, p95, p99, max, rate (and the baseline's p50, p95)."""
    rec = ours.recorder
    what = dict(ACTIONS)
    rows = []
    for action in [a for a, _ in ACTIONS] + sorted(set(rec.errors) - set(what)):
        values = [v * 1000 for v in rec.samples.get(action, [])]
        errors = len(rec.errors.get(action, []))
        if not values and not errors:
            continue
        p95 = percentile(values, 95)
        row = [action, what.get(action, ""), str(len(values)), str(errors), fmt(percentile(values, 50)),
               fmt(p95), fmt(percentile(values, 99)), fmt(max(values, default=float("nan"))),
               fmt(rec.rate(action), 7, 1)]
        if bare is not None:
            base = [v * 1000 for v in bare.recorder.samples.get(action, [])]
            b95 = percentile(base, 95)
            ratio = p95 / b95 if b95 and b95 == b95 else float("nan")
            row += [fmt(percentile(base, 50), 8), fmt(b95, 8), fmt(ratio, 5, 1) + "×"]
        rows.append(row)
    return rows


def report(args, ours: DayResult, bare: DayResult | None, plan: Plan) -> None:
    rec = ours.recorder
    spread = ", ".join(f"worker {w + 1}: {n}" for w, n in sorted(ours.per_worker.items()))
    print(f"\n{args.meetings} meetings × {args.tablets} tablets = {len(plan.tablets)} tablets on "
          f"{args.workers} workers ({spread} tablets), {args.rounds} votes per meeting, {args.annotations} "
          f"annotations per tablet, {len(plan.ballots)} ballots × {args.tablets} recipients; ramp "
          f"{args.ramp:.0f} s, duration {args.duration:.0f} s")
    print("Latency in ms (HTTP: request to last byte; socket: emit to ack; →all: until every tablet "
          "concerned got the broadcast); rate: count / active window of the action")
    widths = [20, 38, 5, 4, 7, 7, 7, 7, 7, 8, 8, 6]
    titles = ["action", "what", "n", "err", "p50", "p95", "p99", "max", "rate/s", "bare p50", "bare p95",
              "p95 ×"]
    columns = len(titles) if bare is not None else len(titles) - 3

    def line(values: list[str]) -> str:
        return " ".join(v.strip().ljust(w) if i < 2 else v.strip().rjust(w)
                        for i, (v, w) in enumerate(zip(values[:columns], widths[:columns], strict=True)))

    head = line(titles)
    print(head)
    print("-" * len(head))
    rows = action_rows(ours, bare)
    for row in rows:
        print(line(row))
    total = sum(len(v) for v in rec.samples.values())
    print(f"\nthe day (ours): {ours.wall:.1f} s wall, {total} timed actions ({total / ours.wall:.0f}/s), "
          f"{rec.error_count()} errors, {ours.dropped} websockets dropped")
    if bare is not None:
        btotal = sum(len(v) for v in bare.recorder.samples.values())
        print(f"the day (bare): {bare.wall:.1f} s wall, {btotal} timed actions, "
              f"{bare.recorder.error_count()} errors, {bare.dropped} websockets dropped")
    for result in (ours, bare):
        if result is None:
            continue
        print(f"\nCPU during the day ({result.name}, {result.cpu.wall:.1f} s; % of one core; the machine has "
              f"{os.cpu_count()} cores, busy {result.cpu.machine * 100:.0f} % overall):")
        for group, seconds in result.cpu.used.items():
            print(f"  {group:<22} {seconds:>7.1f} s  {seconds / result.cpu.wall * 100:>5.0f} %")
        others = result.cpu.machine * result.cpu.wall * os.cpu_count() - sum(result.cpu.used.values())
        print(f"  {'anything else':<22} {others:>7.1f} s  {others / result.cpu.wall * 100:>5.0f} %  "
              "(machine busy time minus the above: other programs, py-spy, the kernel)")
        lag = [v * 1000 for v in result.lag]
        print(f"  clients' event-loop lag: p50 {percentile(lag, 50):.1f} ms, p99 {percentile(lag, 99):.1f} "
              f"ms, max {max(lag, default=float('nan')):.0f} ms")
        if result.locks:
            print(f"  {result.locks}")
    for result in (bare, ours):
        if result is None:
            continue
        for action, messages in result.recorder.errors.items():
            print(f"\n{result.name}: {len(messages)} errors in {action}, the most frequent:")
            for message, count in Counter(messages).most_common(3):
                print(f"    {count} × {message[:300]}")
    for path in ours.profiles:
        print(f"\nprofile {path} (hottest frames, inclusive share of on-CPU samples):")
        for line in profile_summary(path):
            print(f"  {line}")
    if args.markdown:
        cells = titles[:columns]
        lines = ["| " + " | ".join(cells) + " |",
                 "|" + "|".join("---" if i < 2 else "--:" for i in range(columns)) + "|"]
        lines += ["| " + " | ".join(v.strip() for v in row) + " |" for row in rows]
        args.markdown.write_text("\n".join(lines) + "\n")
        print(f"\nthe table in Markdown: {args.markdown}")


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=20, help="meetings held at once")
    parser.add_argument("--tablets", type=int, default=30,
                        help="participants (tablets) per meeting, chair included")
    parser.add_argument("--workers", type=int, default=2,
                        help="web worker processes (gunicorn, one gevent worker each)")
    parser.add_argument("--rounds", type=int, default=3, help="votes per meeting")
    parser.add_argument("--duration", type=float, default=300,
                        help="seconds of meeting after the dossier is open: votes start evenly over it, "
                             "annotations and ballot answers come at random moments in it")
    parser.add_argument("--ramp", type=float, default=300,
                        help="tablets arrive at random moments within this (60: the stress day, see "
                             "docs/performance.md)")
    parser.add_argument("--spread", type=float, default=5,
                        help="members cast within this many seconds of a vote's opening")
    parser.add_argument("--ballots", type=int, default=5,
                        help="opinion ballots (ballot k: meeting k's participants answer)")
    parser.add_argument("--annotations", type=int, default=2,
                        help="annotations per tablet (the first shared with the meeting)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds one step may take")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server (any database on it) where CREATE DATABASE is allowed")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--cheap-passwords", action="store_true",
                        help="argon2-cffi's test profile instead of the production one")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare servers")
    parser.add_argument("--keep", action="store_true", help="keep the database (and print its URL)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy each worker during the day: DIR/worker-N.txt (collapsed stacks)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table as Markdown")
    parser.add_argument("--locks-csv", type=Path, metavar="FILE",
                        help="write the pg_stat_activity samples (audit lock waiters and holder) as CSV")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.plan, args.redis_url, args.channel)
        return 0
    # The client's write loop logs "packet queue is empty, aborting" when a websocket closes; drops
    # are counted (socket.dropped) and closing is ours.
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    try:
        import aiohttp  # noqa: F401
        import socketio  # noqa: F401
    except ImportError:
        raise SystemExit("needs the bench extra: .venv/bin/pip install -e '.[bench]'") from None
    if args.tablets > 255 or args.tablets < 2:
        raise SystemExit("--tablets: between 2 and 255")

    # SIGTERM (timeout, a supervisor) unwinds like Ctrl+C: the servers stop, the database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 6 * args.meetings * args.tablets + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))

    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    name = f"cabinet_load_{stamp}"
    prefix = f"cabinet-load-{stamp}"
    scratch = Path(tempfile.mkdtemp(prefix="cabinet-bench-load-"))
    base_env = {k: v for k, v in os.environ.items()
                if k not in {"DATABASE_URL", "REDIS_URL", "CABINET_ASYNC_MODE", "CABINET_SOCKETIO_CHANNEL",
                             "CABINET_PASSWORD_PROFILE", "SECRET_KEY", "CABINET_INSTANCE_PATH"}}
    if args.cheap_passwords:
        base_env["CABINET_PASSWORD_PROFILE"] = "CHEAPEST"  # noqa: S105 - a profile's name
    database_url = None
    keep_scratch = False
    servers: list[Server] = []
    print("\n".join(environment(args, args.database_url)), flush=True)
    try:
        started = time.perf_counter()
        database_url = create_database(args.database_url, name)
        env = {**base_env, "DATABASE_URL": database_url, "SECRET_KEY": os.urandom(32).hex(),
               "CABINET_INSTANCE_PATH": str(scratch / "instance"), "PYTHONUNBUFFERED": "1"}
        upgrade = subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "db", "upgrade"],  # noqa: S603
                                 cwd=ROOT, env=env, capture_output=True, text=True)
        if upgrade.returncode:
            raise SystemExit(f"flask db upgrade failed:\n{upgrade.stdout}\n{upgrade.stderr}")
        # The setup runs in this process, through the services, without Redis (nothing listens yet).
        os.environ.clear()
        os.environ.update(env)
        plan = prepare(args, scratch)
        plan_path = scratch / "plan.json"
        plan_path.write_text(json.dumps({"meetings": [asdict(m) for m in plan.meetings],
                                         "ballots": [asdict(b) for b in plan.ballots],
                                         "tablets": [asdict(t) for t in plan.tablets],
                                         "documents": plan.documents}))
        print(f"setup: database {name} (migrations, {len(plan.tablets) + 1} accounts, {len(plan.meetings)} "
              f"meetings and dossiers, {len(plan.ballots)} ballots) in {time.perf_counter() - started:.1f} s",
              flush=True)
        server_env = {**env, "REDIS_URL": args.redis_url, "CABINET_PROXIES": "1"}

        bare = None
        if not args.no_baseline:
            servers = start_bare(args, env, scratch, plan_path, f"{prefix}-bare")
            cpu = CpuWatch({f"bare {n + 1}": (lambda s=s: [s.process.pid]) for n, s in enumerate(servers)}
                           | {"redis-server": lambda: pids_named("redis-server"),
                              "clients (this process)": lambda: [os.getpid()]})
            urls = [f"http://127.0.0.1:{s.port}" for s in servers]
            bare = asyncio.run(run_day("bare", plan, urls, args, cpu, None, []))
            print(f"bare day: {bare.wall:.1f} s, {bare.recorder.error_count()} errors", flush=True)
            for server in servers:
                stop(server)
            servers = []

        workers, others = start_ours(args, {**server_env, "CABINET_SOCKETIO_CHANNEL": f"{prefix}-ours"},
                                     scratch)
        servers = [*workers, *others]
        groups = {f"worker {n + 1}": (lambda s=s: s.pids()) for n, s in enumerate(workers)}
        groups |= {"jobs worker": lambda: others[0].pids(), "postgres (all)": lambda: pids_named("postgres"),
                   "redis-server": lambda: pids_named("redis-server"),
                   "clients (this process)": lambda: [os.getpid()]}
        profilers, profiles = [], []
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            for n, server in enumerate(workers):
                profiles.append(args.profile / f"worker-{n + 1}.txt")
                profilers.append(start_profiler(server.worker_pid(), profiles[-1]))
        sampler = LockSampler(database_url, name, csv=args.locks_csv)
        head = audit_head(database_url)
        ours = asyncio.run(run_day("ours", plan, [f"http://127.0.0.1:{s.port}" for s in workers], args,
                                   CpuWatch(groups), sampler, profilers))
        ours.locks += "\n  " + audit_rate(database_url, head)
        ours.profiles = profiles
        for server in servers:
            stop(server)
        servers = []
        report(args, ours, bare, plan)
        failed = ours.recorder.error_count() or ours.dropped
        if failed:
            for server_log in sorted(scratch.glob("ours-*.log")):
                errors = [line for line in server_log.read_text(errors="replace").splitlines()
                          if "Traceback" in line or "ERROR" in line or "Error" in line]
                if errors:
                    print(f"\n{server_log.name}: {len(errors)} error lines, the last:\n  "
                          + "\n  ".join(errors[-8:]))
        if failed:
            keep_scratch = True
            print(f"\nthe servers' logs are kept in {scratch}")
        return 1 if failed else 0
    finally:
        for server in servers:
            stop(server)
        if database_url and not args.keep:
            with contextlib.suppress(Exception):
                drop_database(args.database_url, name)
        elif database_url:
            print(f"kept the database: {database_url} (scratch folder {scratch})")
        if not args.keep and not keep_scratch:
            with contextlib.suppress(OSError):
                shutil.rmtree(scratch)
        with contextlib.suppress(Exception):
            import redis

            store = redis.Redis.from_url(args.redis_url)
            for key in store.scan_iter(f"{prefix}*"):
                store.delete(key)


if __name__ == "__main__":
    sys.exit(main())
