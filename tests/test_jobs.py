"""Background jobs with a controlled clock: the minute tick closes overdue ballots once and reminds
the members who have not answered (in the app and by e-mail, captured by a local SMTP server);
the start-up catch-up closes what passed its deadline while the server was down; an SMTP outage
is logged and retried without breaking anything. Huey runs in immediate mode here: no consumer
thread, no sleeping."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
from datetime import UTC, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from cabinet import jobs
from cabinet.audit.models import AuditEntry
from cabinet.ballots import service as ballots
from cabinet.ballots.models import Ballot
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.notifications import mail
from cabinet.notifications.models import Notification
from tests.conftest import PASSWORD

BASE_URL = "https://ecabinet.chinhphu.vn"
BALLOT_TITLE = "Dự thảo Nghị định quy định chi tiết Luật Đất đai"


# --- a local SMTP server -------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return sorted(address for rcpt_tos, _ in self.messages for address in rcpt_tos)

    def clear(self) -> None:
        self.messages.clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(app):
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(CABINET_SMTP_HOST="127.0.0.1", CABINET_SMTP_PORT=port, CABINET_BASE_URL=BASE_URL,
                      CABINET_MAIL_FROM="e-cabinet@chinhphu.vn")
    yield mailbox
    controller.stop()


# --- helpers -------------------------------------------------------------------------------------------


def with_addresses(cabinet, *keys) -> dict[str, str]:
    addresses = {}
    for key in keys:
        cabinet[key].email = f"{cabinet[key].username}@chinhphu.vn"
        addresses[key] = cabinet[key].email
    db.session.commit()
    return addresses


def issue(cabinet, recipients=("pm", "tuphap", "yte")) -> Ballot:
    data = ballots.BallotData(
        title=BALLOT_TITLE, number="45/PLYK-VPCP", questions=["Đồng ý thông qua dự thảo Nghị định?"],
        deadline=utcnow() + timedelta(days=3), recipient_ids=[cabinet[k].id for k in recipients])
    ballot = ballots.create_ballot(cabinet["thuky"], data)
    return ballots.issue_ballot(cabinet["thuky"], ballot.id)


def answer(user, ballot, choice="agree"):
    ballots.submit_response(user, ballot.id, [ballots.AnswerData(ballot.questions[0].id, choice)],
                            password=PASSWORD)


def notifications(user, kind: str) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id,
                                                              Notification.kind == kind)))


def tick(now):
    """The periodic task as the consumer runs it, with a controlled clock. Like a job, it runs in
    its own app context: end the test's transaction first."""
    db.session.commit()
    result = jobs.deadlines_tick.call_local(now=now)
    db.session.expire_all()
    return result


# --- reminders -----------------------------------------------------------------------------------------


def test_issuing_a_ballot_emails_every_recipient_with_an_address(cabinet, smtp):
    addresses = with_addresses(cabinet, "pm", "tuphap")  # yte has no address: in the app only
    ballot = issue(cabinet)
    assert smtp.recipients() == sorted(addresses.values())
    _, message = smtp.messages[0]
    assert "45/PLYK-VPCP" in message["Subject"] and BALLOT_TITLE in message["Subject"]
    assert f"{BASE_URL}/ballots/{ballot.id}" in message.get_content()
    assert len(notifications(cabinet["yte"], "ballot.issued")) == 1


def test_the_tick_reminds_by_email_exactly_the_members_who_have_not_answered(cabinet, smtp):
    addresses = with_addresses(cabinet, "pm", "tuphap", "yte", "outsider")  # not thu_truong
    ballot = issue(cabinet, recipients=("pm", "tuphap", "yte", "outsider", "thu_truong"))
    answer(cabinet["tuphap"], ballot)
    ballot_id, deadline = ballot.id, ballot.deadline
    smtp.clear()  # the mails of the issue

    assert tick(deadline - timedelta(hours=49)).reminders == 0
    assert smtp.messages == []
    result = tick(deadline - timedelta(hours=47))
    assert result.reminders == 4 and result.closed == []
    assert smtp.recipients() == sorted(addresses[k] for k in ("pm", "yte", "outsider"))
    for rcpt_tos, message in smtp.messages:
        subject, body = message["Subject"], message.get_content()
        assert message.get_content_charset() == "utf-8"
        assert "45/PLYK-VPCP" in subject and BALLOT_TITLE in subject  # decoded from RFC 2047
        assert BALLOT_TITLE in body and f"{BASE_URL}/ballots/{ballot_id}" in body
        assert message["To"].addresses[0].addr_spec == rcpt_tos[0]
        assert message["From"].addresses[0].addr_spec == "e-cabinet@chinhphu.vn"
    # The member without an address is reminded in the app; the one who answered is not at all.
    assert len(notifications(cabinet["thu_truong"], "ballot.reminder")) == 1
    assert notifications(cabinet["tuphap"], "ballot.reminder") == []
    [note] = notifications(cabinet["pm"], "ballot.reminder")
    assert note.url == f"/ballots/{ballot_id}" and note.emailed_at is not None

    smtp.clear()
    assert tick(deadline - timedelta(hours=46)).reminders == 0  # nothing more for this threshold
    assert smtp.messages == []


def test_an_email_goes_once_even_if_its_job_runs_twice(cabinet, smtp):
    with_addresses(cabinet, "pm")
    issue(cabinet, recipients=("pm",))
    [note] = notifications(cabinet["pm"], "ballot.issued")
    note_id = note.id
    db.session.commit()  # end the test's transaction: the job has its own session
    assert jobs.send_email.call_local(note_id) is False  # sent already when issued
    assert len(smtp.messages) == 1


def test_without_an_smtp_host_email_is_off_and_logged_once(app, cabinet, caplog, monkeypatch):
    monkeypatch.setattr(mail, "_disabled_logged", False)
    with_addresses(cabinet, "pm")
    caplog.set_level(logging.INFO, logger="cabinet.notifications.mail")
    issue(cabinet)
    issue(cabinet)
    assert caplog.text.count("e-mail is off") == 1
    assert all(n.emailed_at is None for n in notifications(cabinet["pm"], "ballot.issued"))


def test_when_the_smtp_server_is_down_the_job_logs_and_raises_for_retry(app, cabinet, caplog):
    app.config.update(CABINET_SMTP_HOST="127.0.0.1", CABINET_SMTP_PORT=free_port())  # nobody listens
    with_addresses(cabinet, "pm", "tuphap")
    caplog.set_level(logging.WARNING)
    ballot = issue(cabinet)  # the issue itself succeeds, and everyone is told in the app
    assert ballot.status == "open"
    assert all(len(notifications(cabinet[k], "ballot.issued")) == 1 for k in ("pm", "tuphap", "yte"))
    assert "could not send e-mail" in caplog.text
    retries = [t for t in jobs.huey.scheduled() if t.name == "send_email"]
    assert len(retries) == 2 and all(t.retries == 2 for t in retries)  # 3 tries left → 2 after the first
    [note] = notifications(cabinet["pm"], "ballot.issued")
    note_id = note.id
    db.session.commit()
    with pytest.raises(OSError):
        jobs.send_email.call_local(note_id)
    db.session.refresh(note)
    assert note.emailed_at is None


# --- closing at the deadline ---------------------------------------------------------------------------


def test_the_tick_closes_an_overdue_ballot_once_and_tells_the_decider(cabinet):
    ballot = issue(cabinet)
    answer(cabinet["pm"], ballot)
    answer(cabinet["tuphap"], ballot)
    ballot_id, deadline = ballot.id, ballot.deadline
    assert tick(deadline - timedelta(seconds=1)).closed == []
    assert tick(deadline + timedelta(seconds=5)).closed == [ballot_id]
    assert tick(deadline + timedelta(minutes=1)).closed == []
    closings = db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "ballot.closed", AuditEntry.object_id == str(ballot_id)))
    assert closings == 1
    ballot = db.session.get(Ballot, ballot_id)
    assert ballot.status == "closed" and ballot.result["questions"][0]["passed"] is True
    [note] = notifications(cabinet["pm"], "ballot.closed")
    assert note.url == f"/ballots/{ballot_id}" and "45/PLYK-VPCP" in note.title
    assert notifications(cabinet["tuphap"], "ballot.closed") == []


def test_issuing_schedules_the_closing_at_the_exact_deadline(cabinet):
    ballot = issue(cabinet)
    [task] = [t for t in jobs.huey.scheduled() if t.name == "close_at_deadline"]
    assert task.args == (ballot.id,)
    assert task.eta.replace(tzinfo=UTC) == ballot.deadline  # Huey keeps naive UTC
    # When it runs (here: the deadline moved into the past), it closes the ballot.
    answer(cabinet["yte"], ballot, "disagree")
    db.session.execute(update(Ballot).where(Ballot.id == ballot.id)
                       .values(deadline=utcnow() - timedelta(seconds=2)))
    ballot_id = ballot.id
    db.session.commit()
    assert jobs.close_at_deadline.call_local(ballot_id) == [ballot_id]
    assert jobs.close_at_deadline.call_local(ballot_id) == []  # and a duplicate run changes nothing
    db.session.expire_all()
    assert db.session.get(Ballot, ballot_id).status == "closed"


def test_the_start_up_catch_up_closes_a_ballot_whose_deadline_passed_while_the_server_was_down(cabinet):
    ballot = issue(cabinet)
    answer(cabinet["pm"], ballot)
    answer(cabinet["tuphap"], ballot)
    answer(cabinet["yte"], ballot, "disagree")
    ballot_id, deadline = ballot.id, ballot.deadline
    db.session.commit()
    # The server was off from before the deadline until three days after it.
    result = jobs.catch_up(now=deadline + timedelta(days=3))
    assert result is not None and result.closed == [ballot_id]
    db.session.expire_all()
    ballot = db.session.get(Ballot, ballot_id)
    assert ballot.status == "closed" and ballot.closed_at == deadline + timedelta(days=3)
    assert ballot.result["questions"][0]["counts"] == {"agree": 2, "disagree": 1, "other": 0}
    assert ballot.result["questions"][0]["passed"] is True  # 2 of 3 is more than half
    assert len(notifications(cabinet["pm"], "ballot.closed")) == 1


def test_the_catch_up_never_raises(app, monkeypatch, caplog):
    def broken(now=None):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(ballots, "close_overdue", broken)
    assert jobs.catch_up() is None
    assert "catch-up" in caplog.text


def test_tests_and_commands_never_start_a_consumer(app):
    assert jobs.huey.immediate
    assert jobs.start_embedded(app) is None
    assert not any(t.name in ("Scheduler", "Worker-1") for t in threading.enumerate())


def test_the_run_deadlines_command_closes_overdue_ballots(app, cabinet):
    ballot = issue(cabinet)
    ballot_id = ballot.id
    db.session.execute(update(Ballot).where(Ballot.id == ballot_id)
                       .values(deadline=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    output = app.test_cli_runner().invoke(args=["jobs", "run-deadlines"]).output
    assert f"closed 1 ballot(s) [{ballot_id}]" in output
    refused = app.test_cli_runner().invoke(args=["jobs", "worker"])
    assert refused.exit_code != 0
