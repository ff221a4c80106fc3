"""The audit trail's lock under gevent: once granted, the holder does not yield until its commit.

Every write appends to one hash chain under one PostgreSQL advisory lock. In a gevent worker each
round trip of the holder would otherwise hand the loop to the worker's other greenlets, and every
writer of every worker would wait for the holder to be scheduled again (bench/load.py saw the
holder idle in its transaction 95 % of the time). ``cabinet.core.database.hold_the_loop`` makes
the holder's connection wait without yielding until its transaction ends; these tests run a
gevent process, as gunicorn's worker is, with a greenlet ticking every 5 ms beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.cluster import app, needs_postgres, scratch_postgres  # noqa: F401  (fixtures)
from tests.conftest import BASE_TEST_CONFIG

PROBE = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, sys, time
    import gevent
    from sqlalchemy import text
    from cabinet import create_app
    from cabinet.audit import service as audit
    from cabinet.core import database
    from cabinet.extensions import db

    config = json.loads(sys.argv[1])
    app = create_app(config)
    ticks = []
    def tick():
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.005)
    gevent.spawn(tick)
    gevent.sleep(0.05)

    def ticks_during(work):
        start = time.monotonic()
        work()
        end = time.monotonic()
        return sum(1 for t in ticks if start < t < end)

    def slow_query(hold=False):
        if hold:
            database.hold_the_loop(db.session.connection())
        db.session.execute(text("SELECT pg_sleep(0.3)"))
        db.session.commit()

    held = []
    real_hold = audit.hold_the_loop
    audit.hold_the_loop = lambda connection: held.append(real_hold(connection)) or held[-1]
    with app.app_context():
        result = {"free": ticks_during(slow_query),
                  "held": ticks_during(lambda: slow_query(hold=True)),
                  "after_held": ticks_during(slow_query)}
        audit.record("probe.hold", actor_name="probe", details={"n": 1})
        db.session.commit()
        result["audit_held"] = held
        result["after_audit"] = ticks_during(slow_query)
        result["chain"] = audit.verify_chain().ok
    print(json.dumps(result))
""")


def test_the_audit_lock_holder_keeps_the_loop_until_its_commit_then_yields_again(app, needs_postgres):  # noqa: F811
    config = {**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
              "SOCKETIO_ASYNC_MODE": "gevent"}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(config)], capture_output=True, text=True,  # noqa: S603
                          timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    # A 0.3 s query normally lets the ticker run ~60 times; held, not once.
    assert probe["free"] >= 20, probe
    assert probe["held"] <= 1, probe
    # The commit ends the hold: the same connection yields again afterwards.
    assert probe["after_held"] >= 20, probe
    # The chain's append held it, and let go after its commit.
    assert probe["audit_held"] == [True], probe
    assert probe["after_audit"] >= 20, probe
    assert probe["chain"] is True, probe
