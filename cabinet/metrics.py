"""Prometheus metrics at ``GET /metrics``, and the request log line.

``/metrics`` answers only when ``CABINET_METRICS_TOKEN`` is set *and* the request carries
``Authorization: Bearer <that token>``; any other request gets 404, as if the URL did not exist
(a scanner learns nothing, and no user login ever opens it). nginx refuses it on the public server
as well: Prometheus scrapes each web process directly on ``127.0.0.1:800N``.

Each gunicorn process runs exactly one gevent worker, so each process keeps its own counters in
memory and is scraped on its own port: prometheus_client's multiprocess mode is not needed (and the
process metrics — CPU, memory, open files — come with the default registry for free).

Label values are bounded: Flask endpoint names (never paths, which hold ids), a fixed set of HTTP
methods, registered Socket.IO event names and the readiness check names.
"""

from __future__ import annotations

import hmac
import time
import weakref

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from cabinet.core.logging import log_request, request_id_from

HTTP_REQUESTS = Counter("ecabinet_http_requests", "HTTP requests answered, by method, endpoint and status.",
                        ["method", "endpoint", "status"])
HTTP_DURATION = Histogram("ecabinet_http_request_duration_seconds",
                          "Time to answer an HTTP request, by Flask endpoint.", ["endpoint"],
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
SOCKET_CONNECTIONS = Gauge("ecabinet_socket_connections",
                           "Socket.IO connections of logged-in users open in this process.")
SOCKET_EVENTS = Counter("ecabinet_socket_events", "Socket.IO events received, by event name.", ["event"])
VOTES_CAST = Counter("ecabinet_votes_cast", "Ballots cast in live votes (first casts; changes not counted).")
JOB_QUEUE_FAILURES = Counter("ecabinet_jobs_queue_failures",
                             "Jobs that could not be queued (Redis unreachable, or another error).")
READINESS = Gauge("ecabinet_readiness", "1 when the check passed at the last GET /readyz, 0 when it failed.",
                  ["check"])
DB_POOL_CHECKED_OUT = Gauge("ecabinet_db_pool_checked_out",
                            "Database connections taken from this process's pool right now.")

#: Methods kept as label values; any other (a client inventing one) is counted as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """Register ``/metrics``, the per-request hooks and the socket, vote and pool instruments."""
    from cabinet.extensions import csrf, limiter

    app.register_blueprint(bp)
    csrf.exempt(bp)
    limiter.exempt(bp)
    hooks = app.before_request_funcs.setdefault(None, [])
    # First of all hooks (before the health probes' own, which answers early): every request is
    # timed and given its id, and /metrics is answered before the session rules look at a cookie.
    hooks.insert(0, _answer_metrics)
    hooks.insert(0, _start_request)
    app.after_request(_finish_request)
    _instrument_socketio()
    _count_votes()
    _watch_pool(app)


# --- requests --------------------------------------------------------------------------------------


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get("X-Request-ID"))


def _finish_request(response: Response) -> Response:
    """Count the request, time it, write its log line and echo its id to the client."""
    started = g.get("request_started")
    duration = time.perf_counter() - started if started is not None else 0.0
    request_id = g.get("request_id") or request_id_from(None)
    endpoint = request.endpoint or "none"
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
    HTTP_DURATION.labels(endpoint).observe(duration)
    response.headers["X-Request-ID"] = request_id
    log_request(request_id=request_id, method=method, path=request.path, endpoint=request.endpoint,
                status=response.status_code, duration_ms=round(duration * 1000, 1),
                user_id=_user_id(), client=request.remote_addr)
    return response


def _user_id() -> int | None:
    """The logged-in user's id, or the API token's owner's; None for anonymous requests. Read
    without a query when the object is already loaded (a page's user always is)."""
    from sqlalchemy import inspect

    user = g.get("_login_user")  # Flask-Login's, only when this request loaded it
    if user is not None and getattr(user, "is_authenticated", False):
        identity = inspect(user).identity
        return identity[0] if identity else None
    token = g.get("api_token")
    if token is not None:
        try:
            return token.user_id
        except Exception:  # the session is gone: the line goes out without it
            return None
    return None


# --- /metrics ----------------------------------------------------------------------------------------


def _answer_metrics():
    if request.endpoint != "metrics.metrics":
        return None
    return metrics()


@bp.get("/metrics")
def metrics():
    """The Prometheus text exposition, for a bearer of ``CABINET_METRICS_TOKEN``; 404 otherwise."""
    if not token_accepted(current_app.config.get("CABINET_METRICS_TOKEN"),
                          request.headers.get("Authorization", "")):
        return Response("Not Found\n", status=404, mimetype="text/plain",
                        headers={"Cache-Control": "no-store"})
    return Response(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                        "Cache-Control": "no-store"})


def token_accepted(expected: str | None, authorization: str) -> bool:
    """True when metrics are on and ``authorization`` is ``Bearer <expected>`` (compared in
    constant time, so the token cannot be guessed a character at a time)."""
    if not expected:
        return False
    scheme, _sep, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), expected.encode())


# --- readiness, jobs ---------------------------------------------------------------------------------


def record_readiness(checks: dict) -> None:
    """Called by ``GET /readyz`` with its checks: ``ecabinet_readiness{check}`` is 1 or 0 for each
    check that ran (a service that is not configured is left out)."""
    for name, result in checks.items():
        if isinstance(result, dict):
            READINESS.labels(name).set(1 if result.get("ok") else 0)


def job_queue_failed() -> None:
    """A job could not be queued (cabinet.jobs.queue_failed)."""
    JOB_QUEUE_FAILURES.inc()


# --- Socket.IO -------------------------------------------------------------------------------------


def _instrument_socketio() -> None:
    """Count (and log at DEBUG) every Socket.IO event, and report the open connections.

    Flask-SocketIO has no middleware: every handler it registers calls ``SocketIO._handle_event``,
    so that one method is wrapped, once per process, instead of every handler. The connection
    gauge reads the per-process map of authenticated sockets kept by cabinet.live.events.
    """
    import logging

    from cabinet.extensions import socketio
    from cabinet.live import events as live_events

    SOCKET_CONNECTIONS.set_function(lambda: len(live_events._connections))
    original = socketio._handle_event
    if getattr(original, "_cabinet_metrics", False):
        return
    log = logging.getLogger("cabinet.socket")

    def handle_event(handler, message, namespace, sid, *args):
        SOCKET_EVENTS.labels(message).inc()
        log.debug("socket event %s", message, extra={"event": message, "namespace": namespace})
        return original(handler, message, namespace, sid, *args)

    handle_event._cabinet_metrics = True  # type: ignore[attr-defined]
    socketio._handle_event = handle_event  # type: ignore[method-assign]


# --- votes -------------------------------------------------------------------------------------------

_VOTES_KEY = "cabinet_metrics_votes"


def _count_votes() -> None:
    """Count ``vote.cast`` audit entries when their transaction commits.

    Every cast — from a tablet's socket, the API or a page — writes exactly one such entry in the
    transaction that records the ballot (cabinet.live.service.cast_vote), so counting committed
    entries counts votes without touching the voting code; a rolled-back cast is not counted.
    """
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if event.contains(Session, "after_flush", _collect_votes):
        return
    event.listen(Session, "after_flush", _collect_votes)
    event.listen(Session, "after_commit", _commit_votes)
    event.listen(Session, "after_soft_rollback", _forget_votes)


def _collect_votes(session, _flush_context) -> None:
    from cabinet.audit.models import AuditEntry

    cast = sum(1 for obj in session.new if isinstance(obj, AuditEntry) and obj.action == "vote.cast")
    if cast:
        session.info[_VOTES_KEY] = session.info.get(_VOTES_KEY, 0) + cast


def _commit_votes(session) -> None:
    cast = session.info.pop(_VOTES_KEY, 0)
    if cast:
        VOTES_CAST.inc(cast)


def _forget_votes(session, _previous_transaction) -> None:
    session.info.pop(_VOTES_KEY, None)


# --- the database pool ---------------------------------------------------------------------------------


def _watch_pool(app: Flask) -> None:
    """``ecabinet_db_pool_checked_out``: read from the pool when Prometheus scrapes."""
    app_ref = weakref.ref(app)

    def checked_out() -> float:
        from cabinet.extensions import db

        current = app_ref()
        if current is None:
            return 0
        with current.app_context():
            pool = db.engine.pool
        counter = getattr(pool, "checkedout", None)  # QueuePool has it; SQLite's memory pools not
        return float(counter()) if callable(counter) else 0

    DB_POOL_CHECKED_OUT.set_function(checked_out)
