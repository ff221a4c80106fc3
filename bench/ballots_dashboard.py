"""The ballots dashboard and a result page with 1,000 ballots × 30 members: time and SQL queries.

    .venv/bin/python bench/ballots_dashboard.py [--ballots 1000] [--members 30] [--repeat 5]
                                                [--database-url postgresql+psycopg://…]

Builds two databases with the migrations (a scratch SQLite file each by default): a small one
(10 ballots × 5 members, the baseline) and the big one (``--ballots`` × ``--members``, every member
answering two questions on most ballots). In each, the secretariat opens the dashboard (first and
tenth page), a ballot's page with the full result, and the same through the JSON API. Each request
is repeated; the script prints the median time and the number of SQL statements per request, for
both sizes side by side. The query count must be the same for both sizes: no query per ballot or
per member (no N+1).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CABINET_PASSWORD_PROFILE", "CHEAPEST")

PASSWORD = "bench-password-2026"  # noqa: S105 (a throw-away account in a scratch database)
CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def build(database_url: str, instance: Path, ballots: int, members: int):
    """A migrated database with ``ballots`` × ``members``; returns the app and a ballot id."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from cabinet import create_app
    from cabinet.ballots.models import (
        Ballot,
        BallotAnswer,
        BallotQuestion,
        BallotRecipient,
        BallotResponse,
    )
    from cabinet.core.timeutil import utcnow
    from cabinet.extensions import db
    from cabinet.users import service as users

    os.environ["CABINET_INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": True, "SECRET_KEY": "bench"})
    with app.app_context():
        if database_url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        users.create_user(None, users.UserData(username="thuky", full_name="Thư Ký", role="secretariat"),
                          PASSWORD)
        people = [users.create_user(None, users.UserData(
            username=f"member{i}", full_name=f"Nguyễn Văn Thành Viên {i}",
            title="Thủ tướng Chính phủ" if i == 0 else "Bộ trưởng", role="member"), PASSWORD)
            for i in range(members)]
        now = utcnow()
        statuses = ["open", "closed", "decided"]
        db.session.execute(sa.insert(Ballot), [
            {"id": b, "number": f"{b}/PLYK-VPCP", "title": f"Dự thảo Nghị định số {b}",
             "status": statuses[b % 3], "deadline": now + timedelta(days=(b % 10) - 3),
             "decider_id": people[0].id, "version": 1, "issued_at": now - timedelta(days=5),
             "no_answer_policy": "disagree", "summary": "", "decision": "", "recall_reason": "",
             "created_at": now, "updated_at": now} for b in range(1, ballots + 1)])
        db.session.execute(sa.insert(BallotQuestion), [
            {"id": (b - 1) * 2 + q, "ballot_id": b, "position": q, "text": f"Câu hỏi {q}?"}
            for b in range(1, ballots + 1) for q in (1, 2)])
        db.session.execute(sa.insert(BallotRecipient), [
            {"ballot_id": b, "user_id": p.id} for b in range(1, ballots + 1) for p in people])
        responses, answers, rid = [], [], 0
        for b in range(1, ballots + 1):
            for i, p in enumerate(people):
                if (b + i) % 7 == 0:
                    continue  # about one member in seven has not answered
                rid += 1
                responses.append({"id": rid, "ballot_id": b, "respondent_id": p.id, "ballot_version": 1,
                                  "submitted_at": now, "content_hash": "0" * 64, "method": "password"})
                for q in (1, 2):
                    answers.append({"response_id": rid, "question_id": (b - 1) * 2 + q,
                                    "choice": ("agree", "disagree", "other")[(b + i + q) % 3],
                                    "comment": "Ý kiến khác của thành viên." if (b + i + q) % 3 == 2 else ""})
        db.session.execute(sa.insert(BallotResponse), responses)
        db.session.execute(sa.insert(BallotAnswer), answers)
        db.session.commit()
        if database_url.startswith("postgresql"):
            db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('ballots', 'id'), :n)"),
                               {"n": ballots})
            db.session.commit()
    return app, max(1, ballots // 2)


def measure(app, ballot_id: int, repeat: int) -> dict[str, tuple[float, int]]:
    """Median seconds and SQL statements per request, for each page."""
    from sqlalchemy import event

    from cabinet.extensions import db

    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = CSRF_RE.search(html).group(1)
    client.post("/login", data={"username": "thuky", "password": PASSWORD, "csrf_token": token})
    api = client.post("/api/v1/auth/token", json={"username": "thuky", "password": PASSWORD}).get_json()
    bearer = {"Authorization": f"Bearer {api['token']}"}
    pages = {
        "dashboard, page 1": ("/ballots", {}),
        "dashboard, page 10": ("/ballots?page=10", {}),
        "ballot page with result": (f"/ballots/{ballot_id}", {}),
        "API: ballot list": ("/api/v1/ballots", bearer),
        "API: result": (f"/api/v1/ballots/{ballot_id}/result", bearer),
    }
    counter = {"n": 0}
    with app.app_context():
        engine = db.engine

    def count(*_args, **_kwargs):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    figures = {}
    try:
        for name, (url, headers) in pages.items():
            times, queries = [], []
            for _ in range(repeat):
                counter["n"] = 0
                started = time.perf_counter()
                answer = client.get(url, headers=headers)
                times.append(time.perf_counter() - started)
                queries.append(counter["n"])
                assert answer.status_code == 200, (url, answer.status_code)
            figures[name] = (statistics.median(times), statistics.median(queries))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballots", type=int, default=1000)
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (its schema is wiped!)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="cabinet-bench-ballots-"))
    try:
        results = {}
        for label, ballots, members in (("baseline", 10, 5), ("big", args.ballots, args.members)):
            url = args.database_url or f"sqlite:///{scratch / label}.sqlite3"
            started = time.perf_counter()
            app, ballot_id = build(url, scratch / f"instance-{label}", ballots, members)
            took = time.perf_counter() - started
            print(f"built {label}: {ballots} ballots × {members} members in {took:.1f} s", flush=True)
            results[label] = measure(app, ballot_id, args.repeat)
        print()
        print(f"{'request':<26} {'10 × 5':>18} {f'{args.ballots} × {args.members}':>20} {'time ×':>8} "
              f"{'queries':>9}")
        for name in results["baseline"]:
            (t0, q0), (t1, q1) = results["baseline"][name], results["big"][name]
            same = "same" if q0 == q1 else f"+{q1 - q0}"
            print(f"{name:<26} {t0 * 1000:8.1f} ms {q0:4d} q {t1 * 1000:10.1f} ms {q1:4d} q {t1 / t0:7.1f}× "
                  f"{same:>9}")
        grew = [n for n in results["baseline"] if results["big"][n][1] != results["baseline"][n][1]]
        print()
        print("query count independent of the number of ballots and members" if not grew
              else f"QUERY COUNT GREW for: {', '.join(grew)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
