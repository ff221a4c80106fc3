"""gunicorn settings read from the working directory (``gunicorn -k gevent -w 1 app:app``).

* The start-up hook: every worker process, once it has loaded the app, closes the ballots whose
  deadline passed while it was down and (without REDIS_URL) starts its in-app job consumer. See
  cabinet/jobs.py and docs/operations.md.
* Logging: gunicorn's access log stays off — the app writes one line per request itself, with the
  request id, the endpoint, the user and the time taken (cabinet/metrics.py), so a second line per
  request would say less twice. With ``CABINET_LOG_FORMAT=json`` gunicorn's own messages (workers
  booting, timeouts) go through the same JSON-lines handler as the app's, so the whole journal
  parses; with ``text`` they keep gunicorn's format.
"""

import importlib.util
import os
from pathlib import Path

accesslog = None  # the app's request line replaces it (see above); do not pass --access-logfile


def _cabinet_logging():
    """cabinet/core/logging.py, loaded by path: importing the ``cabinet`` package here would import
    Flask, SQLAlchemy and Redis into the master process before gevent has patched the worker."""
    path = Path(__file__).resolve().parent / "cabinet" / "core" / "logging.py"
    spec = importlib.util.spec_from_file_location("cabinet_logging_for_gunicorn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _json_handler():
    return _cabinet_logging().make_handler("json")


if (os.environ.get("CABINET_LOG_FORMAT") or "").strip().lower() == "json":
    _level = (os.environ.get("CABINET_LOG_LEVEL") or "INFO").strip().upper()
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": _level, "handlers": ["cabinet"]},
        "loggers": {
            # Through the root logger, hence the JSON handler (the app's replaces it in the worker).
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
        "handlers": {"cabinet": {"()": _json_handler}},
    }


def post_worker_init(worker):
    from cabinet import jobs

    jobs.start_embedded(worker.wsgi)
