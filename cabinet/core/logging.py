"""Log lines for operators: JSON lines on servers, plain text on a desk.

``CABINET_LOG_FORMAT`` chooses: ``json`` (set by deploy/ecabinet.env.example, the systemd units and
docker compose) writes one JSON object per line — what journald, ``jq`` and log shippers read
without a parser of their own — and ``text`` (the default: the one-command run, the tests) a line a
person reads. ``CABINET_LOG_LEVEL`` (default ``INFO``) is the threshold.

Every JSON line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message`` and ``pid``; lines
written while a request is answered also carry its ``request_id``; an exception adds ``traceback``
(the whole traceback in one field, so one error stays one line). The request log line itself
(:func:`log_request`) adds ``method``, ``path`` (never the query string: it may carry a token),
``endpoint``, ``status``, ``duration_ms``, ``user_id`` and ``client``. Nothing here logs a header, a
form field or a body: passwords, tokens and document contents never reach the log.

The JSON formatting is python-json-logger's (a small, maintained library that handles ``extra``
fields, exceptions and non-ASCII text); this module only fixes the field names and their order.

This module imports nothing from Flask at import time: gunicorn's master process loads it by path
(gunicorn.conf.py) to format its own lines, before the worker has monkey-patched anything.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

#: Marks the handlers this module installs, so configuring again (another app in the same process,
#: the worker after gunicorn's master) replaces them instead of doubling every line.
HANDLER_MARK = "_cabinet_log_handler"

#: Libraries that say at INFO what is routine: Huey a line before and after every job (the minute
#: ticks included), Alembic its plugins at every start. Their warnings and errors still show.
CHATTY_LOGGERS = ("huey", "alembic.runtime.plugins")

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
FORMATS = ("text", "json")

#: A request id accepted from nginx (``X-Request-ID: $request_id``: 32 hex digits) or another
#: proxy; anything else (too long, odd characters) is replaced by a fresh one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, ``pid``, then any
    ``extra`` fields, and ``traceback`` for an exception."""

    def __init__(self) -> None:
        super().__init__(
            fmt=["levelname", "name", "message", "process"],
            rename_fields={"levelname": "level", "name": "logger", "process": "pid",
                           "exc_info": "traceback", "stack_info": "stack"},
            json_ensure_ascii=False,  # Vietnamese stays readable in journalctl
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        """Put ``time`` first (millisecond precision, ``Z`` for UTC), then the library's fields."""
        created = datetime.fromtimestamp(record.created, tz=UTC)
        log_data["time"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        super().add_fields(log_data, record, message_dict)


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every line written while it is answered (an exception's
    line, a warning from a service), so ``jq 'select(.request_id=="…")'`` finds all of them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = _current_request_id()
            if request_id is not None:
                record.request_id = request_id
        return True


def _current_request_id() -> str | None:
    flask = sys.modules.get("flask")  # not imported: no request can be under way (gunicorn master)
    if flask is None or not flask.has_request_context():
        return None
    return flask.g.get("request_id")


def make_handler(fmt: str | None = None, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (standard error by default: journald and docker collect it) formatting
    lines as ``fmt`` says (``json`` or ``text``; default: ``CABINET_LOG_FORMAT``)."""
    fmt = normalise_format(fmt if fmt is not None else os.environ.get("CABINET_LOG_FORMAT"))
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLineFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    setattr(handler, HANDLER_MARK, True)
    return handler


def normalise_format(value: str | None) -> str:
    """``json`` or ``text`` (anything unknown, or nothing, is ``text``)."""
    value = (value or "text").strip().lower()
    return value if value in FORMATS else "text"


def normalise_level(value: str | None) -> int:
    """A level name (``DEBUG``, ``info``…) as its number; INFO when unknown."""
    level = logging.getLevelName((value or "INFO").strip().upper())
    return level if isinstance(level, int) else logging.INFO


def configure_logging(fmt: str | None = None, level: str | None = None,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's lines (through the root logger) to one handler of ours.

    Replaces the handlers an earlier call installed and leaves any other alone (pytest's capture,
    a handler an embedding program added). Returns the new handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = make_handler(fmt, stream)
    root.addHandler(handler)
    threshold = normalise_level(level if level is not None else os.environ.get("CABINET_LOG_LEVEL"))
    root.setLevel(threshold)
    for name in CHATTY_LOGGERS:
        # At DEBUG they speak again; at INFO they would write several lines a minute each.
        logging.getLogger(name).setLevel(logging.NOTSET if threshold <= logging.DEBUG else logging.WARNING)
    return handler


def init_app(app) -> None:
    """Configure logging from the app's settings (``CABINET_LOG_FORMAT``, ``CABINET_LOG_LEVEL``).

    Under ``TESTING`` nothing is installed: pytest captures the records itself, and a handler
    writing to standard error would mix log lines into the output the CLI tests compare.
    """
    if app.testing:
        return
    level = app.config.get("CABINET_LOG_LEVEL")
    if _in_a_command() and not os.environ.get("CABINET_LOG_LEVEL"):
        # `flask --app app user create …`, `demo`: the command says what it did on its output; an
        # INFO line per audit entry on top would bury it. (`jobs worker` asks for INFO itself.)
        level = "WARNING"
    configure_logging(app.config.get("CABINET_LOG_FORMAT"), level)


def _in_a_command() -> bool:
    """True when the app is being built by a ``flask`` command other than ``flask run`` (which
    serves, and logs like a server)."""
    click = sys.modules.get("click")
    context = click.get_current_context(silent=True) if click is not None else None
    return context is not None and context.info_name != "run"


# --- the request log line ------------------------------------------------------------------------

#: Answered every few seconds by machines; a line each at INFO would drown the rest.
QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "metrics.metrics"})

request_log = logging.getLogger("cabinet.request")


def request_id_from(header: str | None) -> str:
    """The id the proxy sent (``X-Request-ID``), when it looks like one; else a new one."""
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def log_request(*, request_id: str, method: str, path: str, endpoint: str | None, status: int,
                duration_ms: float, user_id: int | None, client: str | None) -> None:
    """One line per request answered: INFO (ERROR for a 5xx); DEBUG for the probes and /metrics."""
    if endpoint in QUIET_ENDPOINTS:
        level = logging.DEBUG
    elif status >= 500:
        level = logging.ERROR
    else:
        level = logging.INFO
    if not request_log.isEnabledFor(level):
        return
    request_log.log(
        level, "%s %s %s %.1f ms", method, path, status, duration_ms,
        extra={"request_id": request_id, "method": method, "path": path, "endpoint": endpoint,
               "status": status, "duration_ms": duration_ms, "user_id": user_id, "client": client})
