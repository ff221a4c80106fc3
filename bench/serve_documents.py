"""Serving a 20 MB dossier to 30 tablets at once: throughput and latency, next to a static file.

    .venv/bin/python bench/serve_documents.py [--clients 30] [--rounds 3] [--mb 20] [--workers 1]

What it does, all on 127.0.0.1 in a scratch folder (removed at the end):

1. builds a PDF of about ``--mb`` MB (pages of incompressible image data, as a scanned dossier is);
2. builds a SQLite database with the migrations, a secretariat account, ``--clients`` members and a
   meeting they are all invited to;
3. starts gunicorn with gevent workers (as in production) on a free port; the same server also
   serves the PDF as a plain static file under ``/bench-static/`` (Werkzeug's static-file
   middleware, outside Flask), the baseline;
4. the secretariat uploads the PDF twice through the upload page (unclassified, and ``Mật``) and
   publishes both;
5. each member logs in (its own session), then all fetch at once, ``--rounds`` times each: the
   static file, the unclassified document (streamed from the file store, audited, read mark),
   and the classified one (watermarked for each viewer on every page, audited);
6. prints requests/s, MB/s and p50/p95 latency (from sending the request to the last byte) per case.

Every request is checked (status 200, a PDF of the expected size); the script stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-2026"  # noqa: S105 (a throw-away account in a scratch database)
CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


# --- the server side: gunicorn imports this module and calls server_app() ---------------------


def server_app():
    """The e-Cabinet app, plus the baseline static folder under /bench-static/ in the same server."""
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    from cabinet import create_app

    app = create_app()
    app.wsgi_app = SharedDataMiddleware(app.wsgi_app, {"/bench-static": os.environ["CABINET_BENCH_STATIC"]},
                                        cache=False)
    return app


# --- building the data --------------------------------------------------------------------------


def make_pdf(path: Path, megabytes: int) -> int:
    """A PDF of about ``megabytes`` MB: 512 KB of incompressible greyscale image per page."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        StreamObject,
    )

    writer = PdfWriter()
    width, height = 1024, 512
    for _ in range(max(1, megabytes * 2)):
        page = writer.add_blank_page(595, 842)
        image = StreamObject()
        image._data = os.urandom(width * height)
        image.update({NameObject("/Type"): NameObject("/XObject"),
                      NameObject("/Subtype"): NameObject("/Image"),
                      NameObject("/Width"): NumberObject(width), NameObject("/Height"): NumberObject(height),
                      NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                      NameObject("/BitsPerComponent"): NumberObject(8)})
        content = DecodedStreamObject()
        content.set_data(b"q 515 0 0 257 40 520 cm /Im0 Do Q")
        page[NameObject("/Contents")] = writer._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject(
            {NameObject("/Im0"): writer._add_object(image)})})
        page[NameObject("/MediaBox")] = ArrayObject([NumberObject(0), NumberObject(0),
                                                     NumberObject(595), NumberObject(842)])
    with open(path, "wb") as fh:
        writer.write(fh)
    return path.stat().st_size


def prepare_database(clients: int) -> int:
    """Migrations, accounts and one meeting (in this process, before the server starts)."""
    from flask_migrate import upgrade

    from cabinet import create_app
    from cabinet.core.timeutil import utcnow
    from cabinet.extensions import db
    from cabinet.meetings.models import Meeting, Participant
    from cabinet.users import service as users

    app = create_app()
    with app.app_context():
        upgrade()
        users.create_user(None, users.UserData(
            username="thuky", full_name="Trần Thị Thu Hà", role="secretariat", clearance="tuyet_mat",
            organisation="Văn phòng Chính phủ", title="Chuyên viên", locale="en"), PASSWORD)
        members = [users.create_user(None, users.UserData(
            username=f"thanhvien{n:02d}", full_name=f"Nguyễn Văn Thành Viên {n:02d}", role="member",
            clearance="mat", organisation="Bộ Tư pháp", title="Bộ trưởng"), PASSWORD) for n in range(clients)]
        starts = (utcnow() + timedelta(days=10)).replace(microsecond=0)
        meeting = Meeting(title="Phiên họp Chính phủ thường kỳ (bench)", starts_at=starts,
                          ends_at=starts + timedelta(hours=3))
        meeting.participants = [Participant(user_id=m.id, role="member") for m in members]
        db.session.add(meeting)
        db.session.commit()
        meeting_id = meeting.id
        db.engine.dispose()
    return meeting_id


# --- the client side ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def logged_in(base: str, username: str):
    import requests

    session = requests.Session()
    html = session.get(f"{base}/login", timeout=30).text
    token = CSRF_RE.search(html).group(1)
    answer = session.post(f"{base}/login", timeout=60, allow_redirects=False,
                          data={"username": username, "password": PASSWORD, "csrf_token": token})
    if answer.status_code != 302:
        raise SystemExit(f"login of {username} failed: {answer.status_code}")
    return session


def token_of(session, url: str) -> str:
    return CSRF_RE.search(session.get(url, timeout=30).text).group(1)


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0


def fetch(session, url: str, expected_size: int | None) -> tuple[float, int]:
    started = time.perf_counter()
    with session.get(url, stream=True, timeout=300) as answer:
        size, head = 0, b""
        for chunk in answer.iter_content(1024 * 1024):
            if not head:
                head = chunk[:5]
            size += len(chunk)
        elapsed = time.perf_counter() - started
    if answer.status_code != 200 or head != b"%PDF-":
        raise RuntimeError(f"{url}: HTTP {answer.status_code}")
    if expected_size is not None and size != expected_size:
        raise RuntimeError(f"{url}: {size} bytes, expected {expected_size}")
    return elapsed, size


def load(name: str, sessions, url: str, rounds: int, expected_size: int | None, deadline: float) -> Result:
    result = Result(name)
    lock = threading.Lock()
    barrier = threading.Barrier(len(sessions) + 1)

    def client(session):
        barrier.wait()
        for _ in range(rounds):
            if time.monotonic() > deadline:
                with lock:
                    result.errors.append("time budget exhausted")
                return
            try:
                elapsed, size = fetch(session, url, expected_size)
            except Exception as exc:  # reported below, never hidden
                with lock:
                    result.errors.append(str(exc))
                continue
            with lock:
                result.latencies.append(elapsed)
                result.bytes += size

    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in sessions]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - started
    return result


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def report(results: list[Result], clients: int, rounds: int, size: int, workers: int) -> None:
    print(f"\n{clients} concurrent clients × {rounds} rounds, a {size / 1e6:.1f} MB PDF, "
          f"gunicorn -k gevent -w {workers}, SQLite, {os.cpu_count()} cores")
    columns = ("req", "err", "req/s", "MB/s", "p50 s", "p95 s", "max s")
    widths = (4, 4, 7, 8, 7, 7, 7)
    print(f"{'case':44} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for r in results:
        count = len(r.latencies)
        rps = count / r.wall if r.wall else 0
        mbps = r.bytes / 1e6 / r.wall if r.wall else 0
        print(f"{r.name:44} {count:>4} {len(r.errors):>4} {rps:>7.2f} {mbps:>8.1f} "
              f"{percentile(r.latencies, 50):>7.2f} {percentile(r.latencies, 95):>7.2f} "
              f"{max(r.latencies, default=float('nan')):>7.2f}")
        for error in sorted(set(r.errors))[:3]:
            print(f"    error: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--budget", type=float, default=600,
                        help="stop the load after this many seconds")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cabinet-bench-docs-"))
    instance, static = scratch / "instance", scratch / "static"
    static.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ.update({
        "CABINET_INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
        "SECRET_KEY": os.urandom(16).hex(),
        "CABINET_LOGIN_RATE_LIMIT": "100000 per minute",
        "CABINET_MAX_UPLOAD_MB": str(max(100, args.mb * 2)),
        "CABINET_BENCH_STATIC": str(static),
    })
    os.environ.pop("REDIS_URL", None)
    server = None
    try:
        pdf = static / "dossier.pdf"
        size = make_pdf(pdf, args.mb)
        meeting_id = prepare_database(args.clients)
        env = {**os.environ, "CABINET_ASYNC_MODE": "gevent"}
        server = subprocess.Popen(  # noqa: S603
            [str(Path(sys.executable).parent / "gunicorn"), "-k", "gevent", "-w", str(args.workers),
             "-b", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--pythonpath", str(ROOT / "bench"),
             "--timeout", "300", "--log-level", "warning", "serve_documents:server_app()"],
            env=env, start_new_session=True)
        import requests

        for _ in range(150):
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{base}/login", timeout=5).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise SystemExit("the server did not start")

        staff = logged_in(base, "thuky")
        new = f"{base}/meetings/{meeting_id}/documents/new"
        ids = {}
        for secrecy in ("none", "mat"):
            started = time.perf_counter()
            with open(pdf, "rb") as fh:
                answer = staff.post(new, timeout=300, allow_redirects=False, data={
                    "csrf_token": token_of(staff, new), "title": f"Hồ sơ trình ({secrecy})",
                    "doc_type": "to_trinh", "secrecy": secrecy, "urgency": "none", "agenda_item_id": ""},
                    files={"file": ("ho-so.pdf", fh, "application/pdf")})
            if answer.status_code != 302:
                raise SystemExit(f"upload failed: HTTP {answer.status_code}")
            ids[secrecy] = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])
            took = time.perf_counter() - started
            print(f"upload of {size / 1e6:.1f} MB ({secrecy}) through the page: {took:.2f} s")
            page = f"{base}/documents/{ids[secrecy]}"
            answer = staff.post(f"{page}/publish", data={"csrf_token": token_of(staff, page)}, timeout=60,
                                allow_redirects=False)
            if answer.status_code != 302:
                raise SystemExit(f"publish failed: HTTP {answer.status_code}")

        started = time.perf_counter()
        sessions = [logged_in(base, f"thanhvien{n:02d}") for n in range(args.clients)]
        print(f"{args.clients} logins: {time.perf_counter() - started:.1f} s")
        for url in (f"{base}/bench-static/dossier.pdf", f"{base}/documents/{ids['none']}/content",
                    f"{base}/documents/{ids['mat']}/content"):
            fetch(sessions[0], url, None)  # warm-up (imports, caches)

        deadline = time.monotonic() + args.budget
        results = [
            load("baseline: static file (same server)", sessions, f"{base}/bench-static/dossier.pdf",
                 args.rounds, size, deadline),
            load("document, unclassified (/content)", sessions, f"{base}/documents/{ids['none']}/content",
                 args.rounds, size, deadline),
            load("document, Mật: watermarked per viewer", sessions, f"{base}/documents/{ids['mat']}/content",
                 args.rounds, None, deadline),
        ]
        report(results, args.clients, args.rounds, size, args.workers)
        return 1 if any(r.errors for r in results) else 0
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
