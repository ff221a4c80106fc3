"""Living with an unreachable Redis: short timeouts, and one log line per outage.

With ``REDIS_URL`` set, three things live in Redis: the Socket.IO message queue (broadcasts
between processes), the job queue (Huey) and the rate-limit counters. None of them holds a
decision — votes, answers, deadlines and annotations are in the database — so when Redis is down
the app keeps serving, and each part says so *once*: :class:`Outage` logs one line when the
first call fails and one when a call succeeds again, instead of a traceback at every call.

:func:`redis_client_options` are the connection settings every Redis client of the app uses: a
host that does not answer costs a request two seconds, not the system's TCP timeout (minutes),
and a refused connection is retried once (a stale pooled connection after a Redis restart), not
ten times with back-off.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("cabinet.redis")

#: Seconds to open a connection to Redis, and to wait for an answer to a command.
CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 5.0  # above the job worker's 1-second blocking read of its queue


def redis_client_options() -> dict:
    """Keyword arguments for ``redis.Redis(...)``/``Redis.from_url(url, ...)``/``ConnectionPool``."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_connect_timeout": CONNECT_TIMEOUT_SECONDS, "socket_timeout": COMMAND_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 1)}


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means "Redis cannot be reached" (not a bug of ours)."""
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(error, RedisConnectionError | RedisTimeoutError | ConnectionError | TimeoutError)


class Outage:
    """What this process last saw of one service: up, or down since a failed call.

    ``failed(error)`` logs ``"<service> is unreachable (<reason>): <effect>"`` at the first
    failure only; ``recovered()`` logs ``"<service> is reachable again"`` once, after a failure.
    Both are cheap and thread-safe, so they may be called at every call to the service.
    """

    def __init__(self, service: str, effect: str):
        self.service = service
        self.effect = effect
        self.failures = 0
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            first = not self._down
            self._down = True
        if first:
            from cabinet.health import short_reason

            log.error("%s is unreachable (%s): %s", self.service, short_reason(error), self.effect)

    def recovered(self) -> None:
        if not self._down:  # the usual case: no lock taken
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
            failures, self.failures = self.failures, 0
        log.warning("%s is reachable again (%d failed attempt%s meanwhile)", self.service, failures,
                    "" if failures == 1 else "s")
