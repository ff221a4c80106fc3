"""Health probes for the load balancer, the container runtime and monitoring.

* ``GET /healthz`` — liveness: the process answers. It touches no database, no session, no login
  and writes no audit entry, so a restart is only asked for when the process itself is stuck.
* ``GET /readyz`` — readiness: this process can serve now. It asks the database for ``SELECT 1``
  and, when ``REDIS_URL`` is set (the Socket.IO message queue, the rate-limit store and the job
  queue all live there), Redis for ``PING``, each within :data:`CHECK_TIMEOUT_SECONDS`. 200 when
  every check passed, 503 otherwise, with a short reason per failed check (never a password).

Both are answered before the application's other request hooks (see
:func:`_answer_before_the_other_hooks`): a probe never loads a user, never follows the session
rules (an expired session would otherwise redirect it to the login page), never needs a CSRF
token and is never rate-limited. The security headers are still added to the answer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy.engine import URL, Engine, make_url

from cabinet.extensions import csrf, db, limiter
from cabinet.metrics import record_readiness

log = logging.getLogger(__name__)

#: Seconds each readiness check may take before it counts as failed.
CHECK_TIMEOUT_SECONDS = 2.0

bp = Blueprint("health", __name__)
# Belt and braces: the hook below already answers before CSRF and the rate limits are looked at.
csrf.exempt(bp)
limiter.exempt(bp)


@bp.record_once
def _answer_before_the_other_hooks(state: BlueprintSetupState) -> None:
    """Put the probes' hook first in the application's before-request hooks.

    The hooks registered earlier (the session rules, which load the user from the database and may
    redirect; the input guard; the rate limiter) must not decide whether a probe is answered: a
    liveness probe has to answer even when the database is down, and a probe sent with a stale
    session cookie must not be redirected to the login page.
    """
    state.app.before_request_funcs.setdefault(None, []).insert(0, _answer_probe)


def _answer_probe():
    if request.blueprint != bp.name or request.endpoint is None:
        return None
    view = current_app.view_functions[request.endpoint]
    return current_app.ensure_sync(view)(**(request.view_args or {}))


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    """Liveness: 200 ``{"status": "ok"}`` as long as the process answers."""
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz():
    """Readiness: the database and (when configured) Redis answer; 503 with the reasons if not."""
    engine = db.engine
    probes: dict[str, Probe] = {
        "database": Probe(lambda: _ping_database(engine), _url_secrets(engine.url))}
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        probes["redis"] = Probe(lambda: _ping_redis(redis_url), _url_secrets(redis_url))
    checks: dict[str, dict | str] = {"redis": "not configured", **run_probes(probes)}
    failed = {name: c["error"] for name, c in checks.items() if isinstance(c, dict) and not c["ok"]}
    record_readiness(checks)  # ecabinet_readiness{check}: 1 or 0, for alerts
    _log_state_changes(failed)
    body = {"status": "not ready" if failed else "ready", "checks": checks}
    return _no_store(jsonify(body)), 503 if failed else 200


_state_lock = threading.Lock()


def _log_state_changes(failed: dict[str, str]) -> None:
    """Log each check when it starts failing (a warning with the reason) and when it recovers —
    once per change of state, not at every probe: a load balancer probes every second or so, and
    an outage must not bury the log. The state is per process (each answers its own probes)."""
    with _state_lock:
        failing: dict[str, int] = current_app.extensions.setdefault("cabinet.readiness_failing", {})
        for name, reason in failed.items():
            if name in failing:
                failing[name] += 1
            else:
                failing[name] = 1
                log.warning("readiness check %s failed: %s", name, reason)
        for name in [name for name in failing if name not in failed]:
            probes = failing.pop(name)
            log.warning("readiness check %s passes again (after %d failed probe%s)", name, probes,
                        "" if probes == 1 else "s")


# --- the checks ----------------------------------------------------------------------------------


def _ping_database(engine: Engine) -> None:
    """``SELECT 1`` on a pooled DBAPI connection.

    Not through a SQLAlchemy ``Connection``: on SQLite its "begin" hook takes the write lock
    (``BEGIN IMMEDIATE``, see cabinet.core.database), and a probe must not queue behind a writer.
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchone()
        cursor.close()
    finally:
        connection.close()  # back to the pool, rolled back


def _ping_redis(url: str) -> None:
    """``PING`` on a connection of its own, with socket timeouts and no retries."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
                                  socket_timeout=CHECK_TIMEOUT_SECONDS, retry=Retry(NoBackoff(), 0))
    try:
        client.ping()
    finally:
        client.close()


@dataclass
class Probe:
    """One readiness check: a function that raises when the service does not answer, and the
    secrets (passwords) its error messages must never show."""

    check: Callable[[], None]
    secrets: tuple[str, ...] = ()


def run_probes(probes: dict[str, Probe]) -> dict[str, dict]:
    """Run the checks side by side, each in a thread of its own (a greenlet under gevent), and
    wait for them at most :data:`CHECK_TIMEOUT_SECONDS` in all: a database host that swallows
    packets, or a full connection pool, must not hold the probe (nor the proxy waiting on it)
    for minutes. Returns ``{"ok": True, "ms": …}`` or ``{"ok": False, "ms": …, "error": …}`` per
    check."""
    errors: dict[str, Exception] = {}
    finished: dict[str, float] = {}
    started = time.perf_counter()

    def run(name: str, probe: Probe) -> None:
        try:
            probe.check()
        except Exception as exc:  # reported in the answer, not raised
            errors[name] = exc
        finished[name] = time.perf_counter()

    workers = {name: threading.Thread(target=run, args=(name, probe), name=f"readiness-{name}", daemon=True)
               for name, probe in probes.items()}
    for worker in workers.values():
        worker.start()
    deadline = started + CHECK_TIMEOUT_SECONDS
    for worker in workers.values():
        worker.join(max(0.0, deadline - time.perf_counter()))

    results: dict[str, dict] = {}
    for name, probe in probes.items():
        if name not in finished:  # still running: abandoned (a daemon; it ends with its socket)
            ms = round((time.perf_counter() - started) * 1000, 1)
            results[name] = {"ok": False, "ms": ms,
                             "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
            continue
        ms = round((finished[name] - started) * 1000, 1)
        if name in errors:
            results[name] = {"ok": False, "ms": ms, "error": short_reason(errors[name], probe.secrets)}
        else:
            results[name] = {"ok": True, "ms": ms}
    return results


# --- reasons without secrets -----------------------------------------------------------------------

_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)
_REASON_MAX = 200


def _url_secrets(url: str | URL) -> tuple[str, ...]:
    """The password in a database or Redis URL, to be masked wherever it might be echoed."""
    try:
        password = make_url(url).password
    except Exception:  # an unparsable URL has no password we can name
        return ()
    return (str(password),) if password else ()


def short_reason(exc: BaseException, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """One line naming what went wrong: the error's class and the first line of its message
    (for a SQLAlchemy error, the driver's own), with credentials in URLs, ``password=…``
    parameters and any of ``secrets`` masked."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    message = lines[0].strip() if lines else ""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    message = _CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", message)
    message = _PASSWORD_PARAM.sub(r"\1***", message)
    reason = f"{type(original).__name__}: {message}" if message else type(original).__name__
    return reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 1] + "…"
