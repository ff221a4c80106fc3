"""Background jobs (Huey): ballot deadlines, reminders (D13) and e-mail.

Two modes, the same task code:

* **Embedded** (no ``REDIS_URL``): the queue is ``instance/jobs.sqlite3`` (SqliteHuey) and a
  consumer runs inside each serving process — started by ``python app.py`` and by gunicorn's
  ``post_worker_init`` hook (``gunicorn.conf.py``), never by ``flask`` commands or tests.
* **Deployment** (``REDIS_URL`` set): the queue is in Redis (RedisHuey) and a separate process,
  ``flask --app app jobs worker``, runs the consumer; the web processes only enqueue.

The deadline decides, not the job: a ballot refuses answers once its deadline has passed even if
no job ran (``Ballot.accepts_answers``), and ``close_overdue`` closes each ballot exactly once.
So a job that runs late, twice (two processes sharing the SQLite queue each run the periodic tick
every minute) or not at all (the server was down: the start-up catch-up closes it) cannot
change an outcome.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import click
from flask import Flask, current_app, has_app_context
from flask.cli import AppGroup
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from huey import Huey, crontab
from huey.consumer import Consumer
from huey.storage import RedisStorage, SqliteStorage

from cabinet import metrics
from cabinet.core import signals
from cabinet.core.logging import configure_logging
from cabinet.core.resilience import Outage, is_unreachable, redis_client_options
from cabinet.core.timeutil import utcnow

log = logging.getLogger(__name__)

JOB_QUEUE = Outage(
    "Redis (REDIS_URL), the job queue",
    "jobs wait until it is back (ballots still refuse answers after their deadline, and the job "
    "worker closes them when it reaches Redis again); e-mail copies queued meanwhile are not sent")


class CabinetHuey(Huey):
    """A Huey whose storage is chosen by the app's settings (see :func:`init_app`), so the
    tasks below can be declared at import time, before any app exists."""

    def configure(self, storage_class, *, immediate: bool, **storage_kwargs) -> None:
        self.storage_class = storage_class
        self.storage_kwargs = storage_kwargs
        self._immediate = immediate  # not the setter: it would build the storage a second time
        self.storage = self.create_storage()

    # Redis unreachable: both raise (the caller or the consumer logs it once, see JOB_QUEUE); the
    # first that succeeds again says so.
    def enqueue(self, task):
        queued = super().enqueue(task)
        JOB_QUEUE.recovered()
        return queued

    def dequeue(self):
        task = super().dequeue()  # the consumer waits a little and retries
        JOB_QUEUE.recovered()
        return task


# Immediate (in memory) until an app configures it: importing this module touches no file.
huey = CabinetHuey("cabinet", immediate=True, results=False, utc=True)

_app: Flask | None = None


def init_app(app: Flask) -> None:
    """Point the queue at Redis or at the SQLite file; tests (``TESTING``) run tasks at once."""
    global _app
    _app = app
    app.extensions["huey"] = huey
    immediate = bool(app.config.get("TESTING"))
    if app.config.get("REDIS_URL"):
        from redis import ConnectionPool

        pool = ConnectionPool.from_url(app.config["REDIS_URL"], **redis_client_options())
        huey.configure(RedisStorage, immediate=immediate, connection_pool=pool)
    else:
        huey.configure(SqliteStorage, immediate=immediate, filename=app.config["CABINET_JOBS_FILE"])
    app.cli.add_command(jobs_cli)


@contextmanager
def _job_context() -> Iterator[None]:
    """Every task runs in its own application context, hence its own database session — also in
    immediate mode, where it may run inside another request's commit."""
    app = current_app._get_current_object() if has_app_context() else _app
    if app is None:
        raise RuntimeError("cabinet.jobs.init_app() was not called")
    with app.app_context():
        yield


# --- tasks --------------------------------------------------------------------------------------------


@dataclass
class TickResult:
    closed: list[int] = field(default_factory=list)
    reminders: int = 0


@huey.periodic_task(crontab(minute="*"), name="deadlines_tick")
def deadlines_tick(now: datetime | None = None) -> TickResult:
    """Every minute: close the ballots whose deadline passed, then send the reminders due (D13).
    Both steps are idempotent, so two processes may run it at the same time."""
    with _job_context():
        return run_deadlines(now)


@huey.periodic_task(crontab(minute="*"), name="meeting_reminders_tick")
def meeting_reminders_tick(now: datetime | None = None) -> int:
    """Every minute: remind the participants of the meetings starting within
    ``CABINET_MEETING_REMINDER_HOURS`` (once each, recorded in the database: two processes may
    run it at the same time)."""
    from cabinet.notifications import handlers

    with _job_context():
        return handlers.remind_meetings(now)


@huey.periodic_task(crontab(minute="*/5"), name="email_outbox_tick")
def email_outbox_tick(now: datetime | None = None) -> list[int]:
    """Every five minutes: queue again the e-mail copies that are due and still unsent some
    minutes after their notification (their job was lost while the job queue was down, or gave up
    while the mail server was). A bounded batch; sending stays once (``emailed_at``)."""
    with _job_context():
        return requeue_unsent_emails(now)


def requeue_unsent_emails(now: datetime | None = None, limit: int = 100) -> list[int]:
    """Queue a ``send_email`` job for each notification the outbox finds; returns their ids."""
    from cabinet.notifications import service as notifications

    ids = notifications.unsent_emails(now, limit=limit)
    queued = []
    for notification_id in ids:
        try:
            send_email(notification_id)
            queued.append(notification_id)
        except Exception as error:  # still down: the next tick tries again
            queue_failed(error, "could not queue again the e-mail of notification %s", notification_id)
            break
    if queued:
        log.info("e-mail outbox: queued again %d unsent e-mail(s)", len(queued))
    return queued


@huey.periodic_task(crontab(minute="41"), name="prune_browser_sessions")
def prune_browser_sessions(now: datetime | None = None) -> int:
    """Every hour: delete the browser sessions that ended (logged out, revoked or expired) more
    than 30 days ago — a row is written per login, and the table must not grow for ever."""
    from cabinet.auth import sessions

    with _job_context():
        return sessions.prune(now)


@huey.task(retries=3, retry_delay=30, name="close_at_deadline")
def close_at_deadline(ballot_id: int) -> list[int]:
    """Scheduled at issue for the ballot's exact deadline, so it closes within seconds rather than
    at the next minute's tick. Closing is by the clock, so it closes whatever is overdue."""
    from cabinet.ballots import service as ballots

    with _job_context():
        return ballots.close_overdue()


@huey.task(retries=3, retry_delay=60, name="send_email")
def send_email(notification_id: int) -> bool:
    """The e-mail copy of a notification. An SMTP failure is logged and raised: Huey retries
    three times, a minute apart."""
    from cabinet.notifications import service as notifications

    with _job_context():
        return notifications.email_copy(notification_id)


def run_deadlines(now: datetime | None = None) -> TickResult:
    """Close overdue ballots and deliver the reminders due at ``now`` (the real time by default)."""
    from cabinet.ballots import service as ballots

    now = now or utcnow()
    result = TickResult(closed=ballots.close_overdue(now))
    reminders = ballots.due_reminders(now)
    for reminder in reminders:
        try:
            _remind(reminder, now)
            result.reminders += 1
        except Exception:
            # Recorded as sent by due_reminders; one failed delivery must not stop the others.
            log.exception("could not deliver the reminder of ballot %s to user %s", reminder.ballot_id,
                          reminder.user_id)
            _rollback()
    return result


def catch_up(now: datetime | None = None) -> TickResult | None:
    """At start-up: close what passed its deadline while the server was down (with the result
    the answers given before the deadline make) and send the reminders due. Never raises: the
    tick retries every minute."""
    try:
        with _job_context():
            result = run_deadlines(now)
        if result.closed:
            log.info("start-up catch-up closed ballots %s", result.closed)
        return result
    except Exception:
        log.exception("start-up catch-up of ballot deadlines failed; the next tick will retry")
        return None


# --- what ballots tell their people ---------------------------------------------------------------------


def _rollback() -> None:
    from cabinet.extensions import db

    db.session.rollback()


def _ref(ballot) -> str:
    return ballot.number or f"#{ballot.id}"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _time_left(delta_seconds: float) -> str:
    minutes = max(0, int(delta_seconds // 60))
    if minutes >= 60:
        hours = round(minutes / 60)
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def _locale_of(user) -> str:
    return (user.locale if user is not None else None) or current_app.config["BABEL_DEFAULT_LOCALE"]


def _by_locale(users) -> dict[str, list[int]]:
    """Recipients grouped by their language: each gets the notification written in it."""
    groups: dict[str, list[int]] = {}
    for user in users:
        groups.setdefault(_locale_of(user), []).append(user.id)
    return groups


def _remind(reminder, now: datetime) -> None:
    from cabinet.ballots.models import Ballot
    from cabinet.extensions import db
    from cabinet.i18n import short_datetime
    from cabinet.notifications import service as notifications
    from cabinet.users.models import User

    ballot = db.session.get(Ballot, reminder.ballot_id)
    user = db.session.get(User, reminder.user_id)
    if ballot is None or user is None:
        return
    with force_locale(_locale_of(user)):
        left = _time_left((ballot.deadline - now).total_seconds())
        notifications.notify(
            [user.id], kind="ballot.reminder",
            title=_("Reminder: ballot %(ref)s “%(title)s” closes in %(left)s",
                    ref=_ref(ballot), title=_short(ballot.title), left=left),
            body=_("You have not answered this ballot yet. Answer before %(deadline)s (%(left)s left); "
                   "after the deadline the ballot closes and your answer can no longer be given.",
                   deadline=short_datetime(ballot.deadline), left=left),
            url=f"/ballots/{ballot.id}")
    db.session.commit()


@signals.ballot_issued.connect
def _on_ballot_issued(_sender, ballot_id: int, **_kwargs) -> None:
    """Tell every recipient (in the app and by e-mail) and schedule the closing at the deadline."""
    try:
        _notify_issued(ballot_id)
    except Exception:  # the ballot is issued (committed): a failed notice must not fail the request
        log.exception("could not notify the recipients of ballot %s", ballot_id)
        _rollback()
    _schedule_closing(ballot_id)


def _notify_issued(ballot_id: int) -> None:
    from cabinet.ballots.models import Ballot
    from cabinet.extensions import db
    from cabinet.i18n import short_datetime
    from cabinet.notifications import service as notifications

    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None:
        return
    for locale, user_ids in _by_locale(r.user for r in ballot.recipients).items():
        with force_locale(locale):
            notifications.notify(
                user_ids, kind="ballot.issued",
                title=_("New ballot %(ref)s: %(title)s", ref=_ref(ballot), title=_short(ballot.title)),
                body=_("The Government Office asks for your opinion on “%(title)s”. Answer before "
                       "%(deadline)s.", title=ballot.title, deadline=short_datetime(ballot.deadline)),
                url=f"/ballots/{ballot.id}")
    db.session.commit()


def _schedule_closing(ballot_id: int) -> None:
    from cabinet.ballots.models import Ballot
    from cabinet.extensions import db

    try:
        ballot = db.session.get(Ballot, ballot_id)
        if ballot is not None:
            close_at_deadline.schedule((ballot_id,), eta=ballot.deadline)
    except Exception as error:  # the minute tick closes it anyway
        queue_failed(error, "could not schedule the closing of ballot %s at its deadline; the minute "
                            "tick closes it", ballot_id)


def queue_failed(error: BaseException, message: str, *args) -> None:
    """A job could not be queued. Redis unreachable: said once per outage (:data:`JOB_QUEUE`),
    each job in one line without a traceback; anything else: logged with its traceback."""
    metrics.job_queue_failed()  # ecabinet_jobs_queue_failures_total
    if is_unreachable(error):
        JOB_QUEUE.failed(error)
        log.warning(message + " (the job queue is unreachable)", *args)
    else:
        log.error(message, *args, exc_info=error)


@signals.ballot_changed.connect
def _on_ballot_changed(_sender, ballot_id: int, **_kwargs) -> None:
    """When a ballot has closed, tell whoever decides on it (once)."""
    try:
        _notify_closed(ballot_id)
    except Exception:
        log.exception("could not notify the decider of ballot %s", ballot_id)
        _rollback()


def _notify_closed(ballot_id: int) -> None:
    from sqlalchemy import select

    from cabinet.ballots.models import Ballot, BallotStatus
    from cabinet.extensions import db
    from cabinet.i18n import short_datetime
    from cabinet.notifications import service as notifications
    from cabinet.notifications.models import Notification

    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None or ballot.status != BallotStatus.CLOSED or ballot.decider_id is None:
        return
    url = f"/ballots/{ballot.id}"
    already = db.session.scalar(select(Notification.id).where(
        Notification.user_id == ballot.decider_id, Notification.kind == "ballot.closed",
        Notification.url == url).limit(1))
    if already is not None:
        return
    result = ballot.result or {}
    with force_locale(_locale_of(ballot.decider)):
        notifications.notify(
            [ballot.decider_id], kind="ballot.closed",
            title=_("Ballot %(ref)s has closed: your decision is awaited", ref=_ref(ballot)),
            body=_("“%(title)s” closed at %(at)s; %(responded)d of %(recipients)d members answered. "
                   "Read the result and record your decision.", title=ballot.title,
                   at=short_datetime(ballot.closed_at or utcnow()),
                   responded=result.get("responded", 0), recipients=result.get("recipients", 0)),
            url=url)
    db.session.commit()


# --- running the consumer ------------------------------------------------------------------------------


class _EmbeddedConsumer(Consumer):
    """A consumer living inside a web process: the server owns the signals (Ctrl+C, SIGTERM,
    gunicorn's SIGHUP), so the consumer installs no handlers of its own."""

    def _set_signal_handlers(self) -> None:
        pass


_started: dict[int, Consumer] = {}  # pid → consumer: once per process, also after a fork
_start_lock = threading.Lock()


def _worker_type() -> str:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return "thread"
    return "greenlet" if monkey.is_module_patched("threading") else "thread"


def _consumer_options(app: Flask) -> dict:
    return {
        "workers": 2,
        "periodic": True,
        "scheduler_interval": 1,  # an ETA job (a deadline) is picked up within about a second
        # SQLite cannot block on the queue like Redis does: poll it at least every second.
        "max_delay": 10.0 if app.config.get("REDIS_URL") else 1.0,
    }


def start_embedded(app: Flask) -> Consumer | None:
    """The start-up hook of a serving process: run the catch-up, then (embedded mode) start the
    consumer threads — once per process. Does nothing in tests or in immediate mode."""
    if app.config.get("TESTING") or huey.immediate:
        return None
    with _start_lock:
        pid = os.getpid()
        if pid in _started:
            return _started[pid]
        with app.app_context():
            catch_up()
        if app.config.get("REDIS_URL") or not app.config.get("CABINET_JOBS_IN_APP", True):
            log.info("jobs run in a separate worker (flask --app app jobs worker)")
            return None
        consumer = _EmbeddedConsumer(huey, worker_type=_worker_type(), shutdown_timeout=10,
                                     **_consumer_options(app))
        consumer.start()
        _started[pid] = consumer
        atexit.register(consumer.stop, graceful=True)
        log.info("job consumer started in process %s (%s workers)", pid, consumer.worker_type)
        return consumer


# --- command line --------------------------------------------------------------------------------------

jobs_cli = AppGroup("jobs", help="Background jobs: deadlines, reminders, e-mail.")


@jobs_cli.command("worker")
@click.option("--workers", default=2, show_default=True, help="Worker threads.")
def worker_command(workers: int) -> None:
    """Run the job consumer (deployments with REDIS_URL; also usable on SQLite)."""
    app = current_app._get_current_object()
    if huey.immediate:
        raise click.ClickException("jobs run immediately in this configuration (TESTING)")
    configure_logging(app.config.get("CABINET_LOG_FORMAT"), app.config.get("CABINET_LOG_LEVEL"))
    for handler in logging.getLogger().handlers:
        handler.addFilter(_OutageFilter())
    catch_up()
    options = {**_consumer_options(app), "workers": workers}
    click.echo(f"e-Cabinet job worker: {workers} threads, queue "
               f"{'Redis' if app.config.get('REDIS_URL') else app.config['CABINET_JOBS_FILE']}")
    huey.create_consumer(worker_type="thread", **options).run()


class _OutageFilter(logging.Filter):
    """In the worker, Huey logs a traceback at every failed read of its queue (several a second
    while Redis is down): say it once instead (:data:`JOB_QUEUE`), and again when it is back."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("huey") and error is not None and is_unreachable(error):
            JOB_QUEUE.failed(error)
            return False
        return True


@jobs_cli.command("run-deadlines")
def run_deadlines_command() -> None:
    """Close overdue ballots and send due reminders once, now."""
    result = catch_up()
    if result is None:
        raise click.ClickException("failed; see the log")
    click.echo(f"closed {len(result.closed)} ballot(s) {result.closed}, sent {result.reminders} reminder(s)")
