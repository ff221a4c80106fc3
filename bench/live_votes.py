"""A vote in a live meeting with N tablets: from a member pressing the button to the new tally on
every tablet, next to a bare python-socketio broadcast server measured in the same run.

    .venv/bin/python bench/live_votes.py [--sizes 30 200 1000] [--votes 2] [--database-url URL]
                                         [--profile DIR]

Needs python-socketio's asyncio client: ``.venv/bin/pip install "python-socketio[asyncio_client]"``.

What it does, all on 127.0.0.1 in a scratch folder (removed at the end):

1. builds the database with the migrations (SQLite in the scratch folder, or ``--database-url``: an
   empty PostgreSQL database), then, through the services: a secretary, 30 voting members (the
   Prime Minister chairs), ``max(sizes) - 30`` guests, an API token for each, and one meeting per N
   with N participants: 30 voting members and N - 30 guests (a cabinet has about 30 members; the
   rest of the room are invited guests and staff, who receive every broadcast but do not vote).
   The meeting is opened and the members checked in;
2. for each N, two servers one after the other, each alone on CPU 0 with the clients on CPU 1
   (``--no-pin`` to let the kernel choose):

   - **bare**: a python-socketio server (gevent, simple-websocket, as ours) whose ``meeting.join``
     enters a room and whose ``vote.cast`` adds one to a counter and broadcasts ``{"cast": k}``
     to the room;
   - **ours**: ``python app.py`` (gevent, one process) on that database;

   N asyncio python-socketio clients (websocket transport, one per tablet, each with its token)
   connect and join the meeting; then, ``--votes`` times, the chair opens a vote and its 30 members
   cast one after another, each cast timed from the emit of ``vote.cast`` until the ``vote.tally``
   with ``cast == k`` has reached all N clients (the next cast waits for that and for the ack). A
   first vote of 5 casts warms up and is not counted;
3. prints p50/p95/p99/max per N for both and the ratio ours / bare, with the server's CPU time per
   cast (from /proc: unlike the latencies, not inflated when something else runs on the machine).

The clients all run in this one process: at large N their own decoding is part of both figures.
``--profile DIR`` samples our server with py-spy (``.venv/bin/pip install py-spy``) while the votes
run and writes collapsed stacks per N, to see where a cast's time goes.
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
import functools
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOTING_MEMBERS = 30
WARM_UP_CASTS = 5


# --- the baseline server ----------------------------------------------------------------------------


def serve_baseline(port: int) -> None:
    """A bare python-socketio server: no database, no checks, one counter."""
    import socketio
    from gevent import pywsgi

    sio = socketio.Server(async_mode="gevent")
    cast = 0

    @sio.on("meeting.join")
    def join(sid, _data=None):
        sio.enter_room(sid, "meeting")
        return {"ok": True}

    @sio.on("vote.cast")
    def vote_cast(_sid, _data=None):
        nonlocal cast
        cast += 1
        sio.emit("vote.tally", {"cast": cast}, to="meeting")
        return {"ok": True}

    pywsgi.WSGIServer(("127.0.0.1", port), socketio.WSGIApp(sio), log=None).serve_forever()


# --- the data ----------------------------------------------------------------------------------------


@dataclass
class Meeting:
    size: int
    meeting_id: int
    chair_token: str
    member_tokens: list[str]  # the voting members, the chair first
    tokens: list[str]  # everyone's, members first


def prepare_database(sizes: list[int]) -> dict[int, Meeting]:
    """Migrations, accounts, tokens and one open meeting per size (in this process, before any
    server starts), through the same services the application uses."""
    from flask_migrate import upgrade

    from cabinet import create_app
    from cabinet.auth import service as auth_service
    from cabinet.core.timeutil import utcnow
    from cabinet.extensions import db
    from cabinet.live import service as live
    from cabinet.meetings import service as meetings
    from cabinet.users import service as users
    from cabinet.users.models import User

    app = create_app({"SOCKETIO_ASYNC_MODE": "threading"})
    with app.app_context():
        upgrade()
        if db.session.scalar(db.select(db.func.count()).select_from(User)):
            raise SystemExit("the database already has accounts: give an empty database")

        def person(username: str, role: str, name: str) -> User:
            return users.create_user(None, users.UserData(
                username=username, full_name=name, role=role, clearance="mat", organisation="Chính phủ",
                title="Bộ trưởng" if role == "member" else "Khách mời"), os.urandom(12).hex())

        secretary = person("thuky", "secretariat", "Trần Thị Thu Hà")
        voters = [person("thutuong", "member", "Phạm Quốc Hưng")]
        voters += [person(f"bt{n:02d}", "member", f"Bộ trưởng Thử {n:02d}")
                   for n in range(VOTING_MEMBERS - 1)]
        guests = [person(f"khach{n:04d}", "guest", f"Khách mời {n:04d}")
                  for n in range(max(0, max(sizes) - VOTING_MEMBERS))]
        tokens = {u.id: auth_service.issue_token(u, label="bench")[0] for u in [*voters, *guests]}
        prepared = {}
        for size in sizes:
            members = voters[:min(size, VOTING_MEMBERS)]
            invited = guests[:max(0, size - VOTING_MEMBERS)]
            participants = {u.id: "guest" for u in invited}
            participants.update({u.id: "member" for u in members[1:]})
            participants[members[0].id] = "chair"
            starts = (utcnow() + timedelta(minutes=30)).replace(microsecond=0)
            meeting = meetings.create_meeting(secretary, meetings.MeetingData(
                title=f"Phiên họp Chính phủ (bench, {size} tablets)", starts_at=starts,
                ends_at=starts + timedelta(hours=3), place="Phòng họp Chính phủ", participants=participants))
            meetings.add_item(secretary, meeting.id, meetings.AgendaItemData(title="Dự án Luật Đất đai"))
            live.open_meeting(members[0], meeting.id)
            for member in members:
                live.check_in(member, meeting.id)
            prepared[size] = Meeting(size=size, meeting_id=meeting.id, chair_token=tokens[members[0].id],
                                     member_tokens=[tokens[u.id] for u in members],
                                     tokens=[tokens[u.id] for u in [*members, *invited]])
        db.session.commit()
        db.engine.dispose()
    return prepared


# --- servers -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict, port: int, log: Path, pin: bool) -> subprocess.Popen:
    with open(log, "ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own scripts
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=functools.partial(os.sched_setaffinity, 0, {0}) if pin else None)  # noqa: PLW1509
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: see {log}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",  # noqa: S310
                                        timeout=2):
                return process
        except urllib.error.HTTPError:
            return process
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise SystemExit(f"the server did not start: see {log}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- the tablets ---------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    size: int
    latencies: list[float] = field(default_factory=list)
    connect_s: float = 0.0
    join_s: float = 0.0
    server_cpu_s: float = 0.0  # CPU time the server spent during the votes (not inflated by other load)
    casts: int = 0  # every cast sent during the votes, the warm-up included
    errors: list[str] = field(default_factory=list)
    dropped: int = 0  # connections the server or the network closed during the run


async def run_tablets(name: str, url: str, meeting: Meeting, votes: int, bare: bool,
                      timeout: float, profile=None, server_pid: int | None = None) -> Result:
    """Connect every tablet, join, then time each cast until its tally reached everyone."""
    import socketio

    size = len(meeting.tokens)
    result = Result(name, size)
    arrived: dict[object, int] = {}
    reached: dict[object, asyncio.Event] = {}
    reached_at: dict[object, float] = {}

    async def on_tally(data):
        key = data["cast"] if bare else (data["vote_id"], data["cast"])
        count = arrived[key] = arrived.get(key, 0) + 1
        if count == size:
            reached_at[key] = time.perf_counter()
            if key in reached:
                reached[key].set()

    def on_disconnect(*_reason):
        result.dropped += 1

    clients = []
    for _ in range(size):
        client = socketio.AsyncClient(reconnection=False)
        client.on("vote.tally", on_tally)
        client.on("disconnect", on_disconnect)
        clients.append(client)
    gate = asyncio.Semaphore(50)

    async def connect(client, token):
        async with gate:
            await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=60)

    async def join(client):
        async with gate:
            ack = await client.call("meeting.join", {"meeting_id": meeting.meeting_id}, timeout=timeout)
            if not ack.get("ok"):
                raise RuntimeError(f"join refused: {ack}")

    profiler = None
    try:
        started = time.perf_counter()
        await asyncio.gather(*(connect(c, t) for c, t in zip(clients, meeting.tokens, strict=True)))
        result.connect_s = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(join(c) for c in clients))
        result.join_s = time.perf_counter() - started

        chair, members = clients[0], clients[:len(meeting.member_tokens)]
        profiler = profile() if profile else None
        cpu_before = cpu_seconds(server_pid)
        cast_so_far = 0
        for round_ in range(votes + 1):
            warm_up = round_ == 0
            vote_id = None
            if not bare:
                opened = await chair.call("vote.open", {"meeting_id": meeting.meeting_id,
                                                        "question": f"Biểu quyết {round_}"}, timeout=timeout)
                if not opened.get("ok"):
                    raise RuntimeError(f"vote.open refused: {opened}")
                vote_id = opened["vote"]["id"]
            for k, member in enumerate(members[:WARM_UP_CASTS] if warm_up else members, 1):
                cast_so_far += 1
                result.casts += 1
                key = cast_so_far if bare else (vote_id, k)
                reached[key] = asyncio.Event()
                answered = asyncio.get_running_loop().create_future()
                started = time.perf_counter()
                choice = ("for", "against", "abstain")[k % 3]
                await member.emit("vote.cast", {"vote_id": vote_id, "choice": choice},
                                  callback=lambda ack, f=answered: f.done() or f.set_result(ack))
                if key not in reached_at:
                    try:
                        await asyncio.wait_for(reached[key].wait(), timeout)
                    except TimeoutError:
                        raise RuntimeError(
                            f"cast {key}: the tally reached {arrived.get(key, 0)} of {size} tablets in "
                            f"{timeout:.0f} s ({result.dropped} disconnected)") from None
                ack = await asyncio.wait_for(answered, timeout)
                if not ack.get("ok"):
                    result.errors.append(str(ack))
                elif not warm_up:
                    result.latencies.append(reached_at[key] - started)
            if not bare:
                closed = await chair.call("vote.close", {"vote_id": vote_id}, timeout=timeout)
                if not closed.get("ok"):
                    raise RuntimeError(f"vote.close refused: {closed}")
        result.server_cpu_s = cpu_seconds(server_pid) - cpu_before
    except (TimeoutError, RuntimeError, socketio.exceptions.SocketIOError) as error:
        result.errors.append(f"{type(error).__name__}: {error}")
    finally:
        if profiler is not None:
            stop_profiler(profiler)
        dropped = result.dropped
        await asyncio.gather(*(c.disconnect() for c in clients if c.connected), return_exceptions=True)
        result.dropped = dropped
    return result


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_profiler(pid: int, output: Path) -> subprocess.Popen:
    """py-spy sampling the server (every greenlet runs on its main thread) from now on."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "500", "--format", "raw",  # noqa: S603
                             "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop_profiler(profiler: subprocess.Popen) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        profiler.wait(timeout=60)
    except subprocess.TimeoutExpired:
        profiler.kill()


# --- figures -------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def figures(result: Result) -> tuple[float, float, float, float]:
    ms = [v * 1000 for v in result.latencies]
    return percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), max(ms, default=float("nan"))


def report(pairs: list[tuple[Result, Result]], database: str, pinned: bool) -> None:
    print(f"\nFrom the emit of vote.cast to the vote.tally on every tablet, in ms ({os.cpu_count()} cores, "
          f"{'server on CPU 0, clients on CPU 1' if pinned else 'unpinned'}; ours: python app.py, gevent, "
          f"{database}). cpu/cast: the server's CPU time during the votes per cast (opening and closing "
          f"the votes included), which other load on the machine does not inflate")
    print(f"{'N':>5} {'server':<7} {'casts':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'cpu/cast':>8} "
          f"{'connect s':>9} {'join s':>7} {'err':>4}")
    for bare, ours in pairs:
        for result in (bare, ours):
            p50, p95, p99, top = figures(result)
            print(f"{result.size:>5} {result.name:<7} {len(result.latencies):>5} {p50:>7.1f} {p95:>7.1f} "
                  f"{p99:>7.1f} {top:>7.1f} {cpu_per_cast(result):>8.2f} {result.connect_s:>9.1f} "
                  f"{result.join_s:>7.1f} {len(result.errors):>4}")
        ratios = [o / b if b else float("nan") for o, b in zip(
            (*figures(ours), cpu_per_cast(ours)), (*figures(bare), cpu_per_cast(bare)), strict=True)]
        print(f"{'':>5} {'ratio':<7} {'':>5} " + " ".join(f"{r:>6.1f}×" for r in ratios[:4])
              + f" {ratios[4]:>7.1f}×")
        for result in (bare, ours):
            for error in result.errors[:3]:
                print(f"      {result.name} error: {error}")


def cpu_per_cast(result: Result) -> float:
    """Milliseconds of server CPU per cast."""
    return result.server_cpu_s * 1000 / result.casts if result.casts else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 200, 1000], help="tablets per meeting")
    parser.add_argument("--votes", type=int, default=2, help="measured votes of 30 casts each, per N")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite, scratch)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds one step may take")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and the clients to CPUs")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample our server with py-spy while the votes run; collapsed stacks go to "
                             "DIR/ours-N.txt (flame graph: https://www.speedscope.app or flamegraph.pl)")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return 0
    try:
        import aiohttp  # noqa: F401  (python-socketio's asyncio client needs it)
    except ImportError:
        raise SystemExit("needs the asyncio client: "
                         '.venv/bin/pip install "python-socketio[asyncio_client]"') from None

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * max(args.sizes) + 256  # a socket per client here; the server is another process
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2

    scratch = Path(tempfile.mkdtemp(prefix="cabinet-bench-live-"))
    instance = scratch / "instance"
    database = args.database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
    os.environ.update({"CABINET_INSTANCE_PATH": str(instance), "DATABASE_URL": database,
                       "SECRET_KEY": os.urandom(16).hex(), "CABINET_PASSWORD_PROFILE": "CHEAPEST"})
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CABINET_ASYNC_MODE", None)
    try:
        started = time.perf_counter()
        meetings = prepare_database(sorted(set(args.sizes)))
        print(f"database ready ({'PostgreSQL' if database.startswith('postgres') else 'SQLite'}, "
              f"{max(args.sizes)} accounts and tokens): {time.perf_counter() - started:.1f} s", flush=True)
        if pin:
            os.sched_setaffinity(0, {1})
        pairs = []
        for size in args.sizes:
            meeting = meetings[size]
            results = []
            for name, bare in (("bare", True), ("ours", False)):
                port = free_port()
                if bare:
                    command = [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", str(port)]
                else:
                    command = [sys.executable, "app.py"]
                env = {**os.environ, "CABINET_PORT": str(port), "CABINET_HOST": "127.0.0.1"}
                log = scratch / f"{name}-{size}.log"
                server = start(command, env, port, log, pin)
                profile = None
                if args.profile and not bare:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profile = functools.partial(start_profiler, server.pid, args.profile / f"ours-{size}.txt")
                try:
                    result = asyncio.run(run_tablets(name, f"http://127.0.0.1:{port}", meeting, args.votes,
                                                     bare, args.timeout, profile, server.pid))
                finally:
                    stop(server)
                p50, p95, p99, _top = figures(result)
                print(f"N={size:<5} {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
                      f"server CPU {cpu_per_cast(result):.2f} ms per cast "
                      f"({len(result.latencies)} casts, {len(result.errors)} errors; connect "
                      f"{result.connect_s:.1f} s, join {result.join_s:.1f} s, {result.dropped} dropped)",
                      flush=True)
                if result.errors:
                    print(f"    first error: {result.errors[0]}\n    server log ({log}):\n"
                          + "\n".join(log.read_text(errors="replace").splitlines()[-15:]), flush=True)
                results.append(result)
            pairs.append((results[0], results[1]))
        report(pairs, "PostgreSQL" if database.startswith("postgres") else "SQLite", pin)
        return 1 if any(r.errors for pair in pairs for r in pair) else 0
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(scratch)


if __name__ == "__main__":
    sys.exit(main())
