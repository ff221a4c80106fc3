"""Opinion ballots (D12, D13) through their service: drafting, issuing, signed answers, the
deadline (with a controlled clock), reminders, the result under both no-answer policies, the
decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
import pytest
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.auth import service as auth_service
from cabinet.ballots import service
from cabinet.ballots.models import BallotReminder, BallotResponse
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.rules import Rules
from tests.conftest import PASSWORD

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def members(cabinet):
    """The Government members who receive ballots by default (role member, active)."""
    return [cabinet[k] for k in ("pm", "tuphap", "yte", "outsider", "thu_truong")]


def draft(cabinet, **changes):
    data = service.BallotData(
        title="Dự thảo Nghị định quy định chi tiết Luật Đất đai", number="45/PLYK-VPCP",
        summary="Xin ý kiến thành viên Chính phủ về dự thảo Nghị định.",
        questions=["Đồng ý thông qua dự thảo Nghị định?", "Đồng ý giao Bộ Tư pháp thẩm định lại?"],
        deadline=changes.pop("deadline", utcnow() + timedelta(days=3)))
    for key, value in changes.items():
        setattr(data, key, value)
    return service.create_ballot(cabinet["thuky"], data)


def issued(cabinet, **changes):
    ballot = draft(cabinet, **changes)
    return service.issue_ballot(cabinet["thuky"], ballot.id)


def answer(user, ballot, *choices, now=None, comment="", password=PASSWORD, otp=None):
    answers = [service.AnswerData(q.id, c, comment) for q, c in zip(ballot.questions, choices, strict=True)]
    return service.submit_response(user, ballot.id, answers, password=password, otp=otp, now=now)


# --- drafting and issuing ----------------------------------------------------------------------------


def test_a_draft_goes_to_every_member_by_default_and_only_staff_see_it(cabinet, members):
    ballot = draft(cabinet)
    assert {r.user_id for r in ballot.recipients} == {m.id for m in members}
    assert ballot.decider_id == cabinet["pm"].id  # the Prime Minister decides unless named otherwise
    with pytest.raises(NotFound):
        service.get_ballot(cabinet["tuphap"], ballot.id)
    with pytest.raises(PermissionDenied):
        service.create_ballot(cabinet["tuphap"], service.BallotData(title="X", questions=["?"]))


def test_editing_a_draft_raises_its_version_and_an_issued_ballot_is_fixed(cabinet):
    ballot = draft(cabinet)
    data = service.BallotData(title=ballot.title, questions=["Một câu hỏi duy nhất?"],
                              deadline=ballot.deadline)
    service.update_ballot(cabinet["thuky"], ballot.id, data)
    assert ballot.version == 2 and [q.text for q in ballot.questions] == ["Một câu hỏi duy nhất?"]
    service.issue_ballot(cabinet["thuky"], ballot.id)
    with pytest.raises(Conflict):
        service.update_ballot(cabinet["thuky"], ballot.id, data)


def test_invalid_drafts_name_the_field(cabinet):
    with pytest.raises(ValidationError) as refused:
        service.create_ballot(cabinet["thuky"], service.BallotData(
            title=" ", questions=[], deadline=utcnow() - timedelta(hours=1),
            recipient_ids=[cabinet["guest"].id]))
    assert set(refused.value.details["fields"]) == {"title", "questions", "deadline", "recipient_ids"}


def test_default_deadline_is_five_working_days_skipping_weekends_and_holidays():
    friday = datetime(2026, 4, 24, 9, 0, tzinfo=HANOI)  # 30/4 and 1/5 are public holidays
    deadline = Rules().ballot_deadline(friday)
    assert deadline == datetime(2026, 5, 5, 17, 0, tzinfo=HANOI)  # Mon 27, Tue 28, Wed 29, Mon 4, Tue 5


def test_members_see_an_issued_ballot_and_outsiders_do_not(cabinet):
    ballot = issued(cabinet)
    assert service.get_ballot(cabinet["tuphap"], ballot.id) is ballot
    with pytest.raises(NotFound):
        service.get_ballot(cabinet["guest"], ballot.id)
    assert [b.id for b in service.visible_ballots(cabinet["yte"])] == [ballot.id]
    assert service.visible_ballots(cabinet["guest"]) == []


# --- answering -------------------------------------------------------------------------------------------


def test_other_opinion_needs_a_comment_and_every_question_an_answer(cabinet):
    ballot = issued(cabinet)
    with pytest.raises(ValidationError) as refused:
        answer(cabinet["tuphap"], ballot, "other", "agree")
    assert f"question_{ballot.questions[0].id}" in refused.value.details["fields"]
    with pytest.raises(ValidationError) as missing:
        service.submit_response(cabinet["tuphap"], ballot.id,
                                [service.AnswerData(ballot.questions[0].id, "agree")], password=PASSWORD)
    assert f"question_{ballot.questions[1].id}" in missing.value.details["fields"]
    answer(cabinet["tuphap"], ballot, "other", "agree", comment="Đề nghị bổ sung Điều 5.")
    assert service.current_response(ballot.id, cabinet["tuphap"].id) is not None


def test_the_answer_is_signed_with_the_password_and_the_second_factor(cabinet):
    ballot = issued(cabinet)
    with pytest.raises(ValidationError) as wrong:
        answer(cabinet["yte"], ballot, "agree", "agree", password="not-my-password")
    assert wrong.value.code == "signature_failed"
    assert cabinet["yte"].failed_logins == 1  # counts towards the lockout like a login
    secret = auth_service.new_totp_secret()
    auth_service.enable_totp(cabinet["yte"], secret, pyotp.TOTP(secret).now())
    cabinet["yte"].totp_last_step = None
    with pytest.raises(ValidationError):
        answer(cabinet["yte"], ballot, "agree", "agree")
    response = answer(cabinet["yte"], ballot, "agree", "agree", otp=pyotp.TOTP(secret).now())
    assert response.method == "password_otp" and len(response.content_hash) == 64


def test_a_member_changes_the_answer_before_the_deadline_and_the_history_is_kept(cabinet):
    ballot = issued(cabinet)
    first = answer(cabinet["tuphap"], ballot, "disagree", "agree")
    second = answer(cabinet["tuphap"], ballot, "agree", "agree")
    assert service.current_response(ballot.id, cabinet["tuphap"].id).id == second.id
    kept = service.history(cabinet["tuphap"], ballot.id)
    assert [r.id for r in kept] == [second.id, first.id] and kept[1].superseded_at is not None
    assert first.content_hash != second.content_hash
    counts = service.tally(ballot).questions[0].counts
    assert counts == {"agree": 1, "disagree": 0, "other": 0}
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "ballot")).all()
    assert "ballot.answered" in actions and "ballot.answer_changed" in actions


def test_answers_after_the_deadline_are_refused_even_before_the_closing_job_ran(cabinet):
    ballot = issued(cabinet)
    with pytest.raises(Conflict) as late:
        answer(cabinet["tuphap"], ballot, "agree", "agree", now=ballot.deadline + timedelta(seconds=1))
    assert late.value.code == "deadline_passed"
    assert ballot.status == "open"  # not closed yet, and still refused: the clock decides


def test_non_recipients_and_recalled_ballots_are_refused(cabinet):
    ballot = issued(cabinet, recipient_ids=[cabinet["pm"].id, cabinet["tuphap"].id])
    with pytest.raises(NotFound):
        answer(cabinet["yte"], ballot, "agree", "agree")
    with pytest.raises(PermissionDenied):
        answer(cabinet["thuky"], ballot, "agree", "agree")
    service.recall_ballot(cabinet["thuky"], ballot.id, "Dự thảo cần sửa")
    with pytest.raises(Conflict) as recalled:
        answer(cabinet["tuphap"], ballot, "agree", "agree")
    assert recalled.value.code == "ballot_recalled"


def test_the_secretariat_records_a_paper_answer_marked_as_such(cabinet):
    ballot = issued(cabinet)
    with pytest.raises(PermissionDenied):
        service.record_paper_response(cabinet["tuphap"], ballot.id, cabinet["yte"].id, [])
    response = service.record_paper_response(
        cabinet["thuky"], ballot.id, cabinet["yte"].id,
        [service.AnswerData(q.id, "agree") for q in ballot.questions])
    assert response.method == "paper" and response.recorded_by_id == cabinet["thuky"].id


# --- the result (D13) ---------------------------------------------------------------------------------


def _with_recipients(cabinet, keys, **changes):
    return issued(cabinet, recipient_ids=[cabinet[k].id for k in keys], **changes)


def test_exactly_half_agreeing_does_not_pass(cabinet):
    ballot = _with_recipients(cabinet, ["pm", "tuphap", "yte", "outsider"])
    answer(cabinet["pm"], ballot, "agree", "agree")
    answer(cabinet["tuphap"], ballot, "agree", "disagree")
    answer(cabinet["yte"], ballot, "disagree", "agree")
    answer(cabinet["outsider"], ballot, "other", "agree", comment="Cần làm rõ thêm")
    first, second = service.tally(ballot).questions
    assert (first.agreeing, first.threshold, first.passed) == (2, 3, False)  # 2 of 4 is not more than half
    assert (second.agreeing, second.passed) == (3, True)


def test_silence_counts_as_not_agreeing_by_default_and_as_agreement_when_the_ballot_says_so(cabinet):
    strict = _with_recipients(cabinet, ["pm", "tuphap", "yte", "outsider"])
    deemed = _with_recipients(cabinet, ["pm", "tuphap", "yte", "outsider"], no_answer_policy="agree")
    for ballot in (strict, deemed):
        answer(cabinet["pm"], ballot, "agree", "disagree")
        answer(cabinet["tuphap"], ballot, "agree", "disagree")
    strict_result, deemed_result = service.tally(strict), service.tally(deemed)
    silent = {u.id for u in strict_result.non_respondents}
    assert silent == {cabinet["yte"].id, cabinet["outsider"].id}
    assert strict_result.questions[0].counts["agree"] == 2  # never merged into Đồng ý
    assert not strict_result.questions[0].passed
    assert deemed_result.questions[0].agreeing == 4 and deemed_result.questions[0].passed
    assert deemed_result.questions[0].counts["agree"] == 2
    assert not deemed_result.questions[1].passed  # 0 agree + 2 silent = 2 of 4


def test_the_ballot_closes_at_its_deadline_once_with_the_result(cabinet):
    ballot = _with_recipients(cabinet, ["pm", "tuphap", "yte"])
    answer(cabinet["pm"], ballot, "agree", "agree")
    answer(cabinet["tuphap"], ballot, "agree", "disagree")
    assert service.close_overdue(now=ballot.deadline - timedelta(seconds=1)) == []
    assert service.close_overdue(now=ballot.deadline) == [ballot.id]
    assert service.close_overdue(now=ballot.deadline + timedelta(minutes=1)) == []  # exactly once
    db.session.refresh(ballot)
    assert ballot.status == "closed" and ballot.closed_by_id is None
    assert ballot.result["questions"][0]["passed"] is True
    assert ballot.result["questions"][1]["passed"] is False
    assert ballot.result["non_respondents"] == [cabinet["yte"].id]


def test_a_ballot_whose_deadline_passed_while_the_server_was_down_is_closed_on_start(cabinet, make_app):
    ballot = _with_recipients(cabinet, ["pm", "tuphap", "yte"])
    answer(cabinet["pm"], ballot, "agree", "agree")
    answer(cabinet["tuphap"], ballot, "agree", "agree")
    answer(cabinet["yte"], ballot, "disagree", "agree")
    # Three days later the server starts again: the catch-up closes it with the answers given.
    closed = service.close_overdue(now=ballot.deadline + timedelta(days=3))
    assert closed == [ballot.id]
    db.session.refresh(ballot)
    assert ballot.closed_at == ballot.deadline + timedelta(days=3)
    assert [q["counts"]["agree"] for q in ballot.result["questions"]] == [2, 3]


def test_the_decider_records_the_decision_once_closed(cabinet):
    ballot = _with_recipients(cabinet, ["pm", "tuphap", "yte"])
    with pytest.raises(Conflict):
        service.record_decision(cabinet["pm"], ballot.id, "Đồng ý ban hành Nghị định.")
    service.close_ballot(cabinet["thuky"], ballot.id)
    with pytest.raises(PermissionDenied):
        service.record_decision(cabinet["thuky"], ballot.id, "Đồng ý")
    with pytest.raises(ValidationError):
        service.record_decision(cabinet["pm"], ballot.id, " ")
    decided = service.record_decision(cabinet["pm"], ballot.id, "Đồng ý ban hành Nghị định.")
    assert decided.status == "decided" and decided.decided_by_id == cabinet["pm"].id


def test_only_the_secretariat_and_the_decider_see_who_answered_what(cabinet):
    ballot = issued(cabinet)
    with pytest.raises(PermissionDenied):
        service.result(cabinet["tuphap"], ballot.id)
    with pytest.raises(PermissionDenied):
        service.history(cabinet["tuphap"], ballot.id, cabinet["yte"].id)
    assert service.result(cabinet["pm"], ballot.id).recipients == 5


# --- reminders (D13) ---------------------------------------------------------------------------------------


def test_reminders_go_only_to_members_who_have_not_answered_once_per_threshold(cabinet):
    ballot = _with_recipients(cabinet, ["pm", "tuphap", "yte"], deadline=utcnow() + timedelta(days=4))
    answer(cabinet["pm"], ballot, "agree", "agree")
    assert service.due_reminders(now=ballot.deadline - timedelta(hours=49)) == []
    at_48 = service.due_reminders(now=ballot.deadline - timedelta(hours=47))
    assert sorted((r.user_id, r.hours_before) for r in at_48) == sorted(
        [(cabinet["tuphap"].id, 48), (cabinet["yte"].id, 48)])
    assert service.due_reminders(now=ballot.deadline - timedelta(hours=46)) == []  # not twice
    answer(cabinet["tuphap"], ballot, "agree", "agree")
    at_24 = service.due_reminders(now=ballot.deadline - timedelta(hours=23))
    assert [(r.user_id, r.hours_before) for r in at_24] == [(cabinet["yte"].id, 24)]


def test_after_downtime_only_the_latest_reminder_is_sent(cabinet):
    ballot = _with_recipients(cabinet, ["pm", "tuphap"], deadline=utcnow() + timedelta(days=4))
    due = service.due_reminders(now=ballot.deadline - timedelta(hours=2))
    assert sorted(r.hours_before for r in due) == [24, 24]
    kept = db.session.scalars(select(BallotReminder.hours_before)).all()
    assert sorted(kept) == [24, 24, 48, 48]  # both thresholds marked, one message each
    assert db.session.scalars(select(BallotResponse)).all() == []


def test_no_reminder_after_the_deadline(cabinet):
    ballot = _with_recipients(cabinet, ["pm"])
    assert service.due_reminders(now=ballot.deadline + timedelta(minutes=5)) == []


def test_times_are_utc(cabinet):
    ballot = draft(cabinet)
    assert ballot.deadline.tzinfo is not None and ballot.deadline.utcoffset() == UTC.utcoffset(None)


def test_members_are_listed_in_vietnamese_alphabetical_order_by_given_name():
    from cabinet.i18n import vietnamese_name_key

    names = ["Lê Văn Đức", "Tôn Nữ Thanh Thủy", "Trần Thị Ánh", "Lê Văn Dũng", "Nguyễn Văn An", "Võ Văn Ơn",
             "Hồ Thị Oanh"]
    assert sorted(names, key=vietnamese_name_key) == [
        "Nguyễn Văn An", "Trần Thị Ánh", "Lê Văn Dũng", "Lê Văn Đức", "Hồ Thị Oanh", "Võ Văn Ơn",
        "Tôn Nữ Thanh Thủy"]


def test_no_reminder_for_a_threshold_that_passed_before_the_ballot_was_issued(cabinet):
    ballot = _with_recipients(cabinet, ["pm", "tuphap"], deadline=utcnow() + timedelta(hours=30))
    assert service.due_reminders(now=utcnow() + timedelta(minutes=1)) == []  # 48 h: before issue
    due = service.due_reminders(now=ballot.deadline - timedelta(hours=23))
    assert sorted(r.hours_before for r in due) == [24, 24]
