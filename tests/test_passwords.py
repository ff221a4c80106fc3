"""Password hashing under gevent: a password check must not freeze the worker's event loop.

In production every tablet of a worker is a greenlet of one gevent loop. Argon2 takes ~0.13 s of
CPU per check; computed on the loop it would stall every socket of the worker (and any request
holding the audit trail's lock) for that time. ``cabinet.auth.passwords`` hands it to gevent's
thread pool, where argon2's C code runs without the GIL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from cabinet.auth.passwords import hash_password, verify_password

# A gevent process as gunicorn's worker has it (monkey-patched), the production Argon2 profile:
# a greenlet ticks every 5 ms while the main greenlet checks a password.
PROBE = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, time
    import gevent
    from cabinet.auth import passwords

    stored = passwords.hash_password("mật khẩu đúng 2026")
    ticks = []
    def tick():
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.005)
    ticker = gevent.spawn(tick)
    gevent.sleep(0.05)
    start = time.monotonic()
    right = passwords.verify_password(stored, "mật khẩu đúng 2026")
    wrong = passwords.verify_password(stored, "sai rồi")
    unknown = passwords.verify_password(None, "mật khẩu đúng 2026")
    end = time.monotonic()
    during = [t for t in ticks if start < t < end]
    gaps = [b - a for a, b in zip(during, during[1:])]
    print(json.dumps({"right": right, "wrong": wrong, "unknown": unknown, "seconds": end - start,
                      "ticks": len(during), "longest_gap": max(gaps, default=end - start)}))
""")


def test_a_password_check_leaves_the_gevent_loop_serving():
    env = {**os.environ, "CABINET_PASSWORD_PROFILE": "RFC_9106_LOW_MEMORY"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=True)
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert (probe["right"], probe["wrong"], probe["unknown"]) == (True, False, False), probe
    # Three checks take ~0.4 s: the loop ticked all along, never frozen for a whole check.
    assert probe["seconds"] > 0.15, probe
    assert probe["ticks"] >= 10, probe
    assert probe["longest_gap"] < probe["seconds"] / 3, probe


def test_without_gevent_the_check_runs_in_place():
    stored = hash_password("mật khẩu đúng 2026")
    assert verify_password(stored, "mật khẩu đúng 2026") is True
    assert verify_password(stored, "sai rồi") is False
    assert verify_password(None, "mật khẩu đúng 2026") is False
    assert verify_password("$argon2id$hỏng", "mật khẩu đúng 2026") is False  # refused, not crashed
