"""The ballot pages (issue 5): the secretariat drafts, edits and issues through the forms; members
answer and sign on the answer page; the dossier is read under the secrecy rules; the decider
decides; the dashboard, the home page and the live response bar."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.ballots import service
from cabinet.ballots.models import Ballot, BallotResponse, BallotStatus
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db, socketio
from tests.conftest import PASSWORD, csrf_token, login
from tests.test_ballots import draft, issued
from tests.test_documents import blank_pdf
from tests.test_socket import fresh_context


def log_in(client, username: str) -> str:
    """Log in and switch the pages to English (stable texts while translations are pending);
    returns the session's CSRF token."""
    login(client, username)
    token = csrf_token(client, "/")
    client.post("/language/en", data={"csrf_token": token, "next": "/"})
    return token


def answer_form(ballot, token, *choices, comment="", password=PASSWORD, prefix=""):
    data = {"csrf_token": token, "sign-password": password}
    for question, choice in zip(ballot.questions, choices, strict=True):
        if choice:
            data[f"{prefix}choice-{question.id}"] = choice
        data[f"{prefix}comment-{question.id}"] = comment
    return data


def current(ballot_id, user):
    return db.session.scalar(select(BallotResponse).where(
        BallotResponse.ballot_id == ballot_id, BallotResponse.respondent_id == user.id,
        BallotResponse.superseded_at.is_(None)))


def text(response) -> str:
    return response.get_data(as_text=True)


# --- drafting and issuing through the forms ------------------------------------------------------------


def test_staff_draft_edit_and_issue_a_ballot_through_the_forms(client, cabinet):
    token = log_in(client, "thuky")
    page = client.get("/ballots/new")
    assert page.status_code == 200
    html = text(page)
    # every Government member preselected, the PM as decider, D13's default deadline and its basis
    for key in ("pm", "tuphap", "yte", "outsider", "thu_truong"):
        assert re.search(rf'value="{cabinet[key].id}" checked', html)
    assert cabinet["guest"].full_name not in html
    assert "Quy chế làm việc của Chính phủ" in html
    assert re.search(r'name="deadline_day" type="date" value="\d{4}-\d\d-\d\d"', html)

    form = {"csrf_token": token, "number": "12/PLYK-VPCP", "title": "", "questions-0": "Đồng ý?",
            "recipients": [cabinet["pm"].id, cabinet["tuphap"].id], "deadline_day": "", "deadline_time": "",
            "no_answer_policy": "disagree", "decider": cabinet["pm"].id}
    refused = client.post("/ballots/new", data=form)
    assert refused.status_code == 400 and "has-error" in text(refused)
    assert db.session.scalar(select(Ballot.id)) is None

    # a deadline in the past: the service's message next to the deadline field
    past = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%d")
    refused = client.post("/ballots/new", data={**form, "title": "Dự thảo Nghị định", "deadline_day": past,
                                                "deadline_time": "10:00"})
    assert refused.status_code == 422
    assert "The deadline must be in the future." in text(refused)

    created = client.post("/ballots/new", data={**form, "title": "Dự thảo Nghị định về đất đai",
                                                "questions-1": "", "questions-3": "Giao Bộ Tư pháp?"})
    assert created.status_code == 302
    ballot = db.session.scalars(select(Ballot)).one()
    assert [q.text for q in ballot.questions] == ["Đồng ý?", "Giao Bộ Tư pháp?"]
    assert {r.user_id for r in ballot.recipients} == {cabinet["pm"].id, cabinet["tuphap"].id}
    assert ballot.status == BallotStatus.DRAFT and ballot.deadline > utcnow()  # D13 default

    # without script, "Add a question" posts the form back with one more box and saves nothing
    more = client.post(f"/ballots/{ballot.id}/edit", data={**form, "title": "X", "add_question": "1"})
    assert more.status_code == 200 and 'name="questions-1"' in text(more)
    edit = client.get(f"/ballots/{ballot.id}/edit")
    assert "Giao Bộ Tư pháp?" in text(edit)
    saved = client.post(f"/ballots/{ballot.id}/edit", data={**form, "title": "Dự thảo Nghị định (sửa)",
                                                            "questions-0": "Một câu hỏi duy nhất?"})
    assert saved.status_code == 302
    db.session.refresh(ballot)
    assert ballot.title == "Dự thảo Nghị định (sửa)" and ballot.version == 2

    not_confirmed = client.post(f"/ballots/{ballot.id}/issue", data={"csrf_token": token},
                                follow_redirects=True)
    assert "Tick the box to confirm" in text(not_confirmed)
    db.session.refresh(ballot)
    assert ballot.status == BallotStatus.DRAFT
    client.post(f"/ballots/{ballot.id}/issue", data={"csrf_token": token, "confirm": "yes"})
    db.session.refresh(ballot)
    assert ballot.status == BallotStatus.OPEN and ballot.issued_at is not None
    # an issued ballot is no longer edited
    assert client.get(f"/ballots/{ballot.id}/edit").status_code == 302


def test_a_member_cannot_draft_nor_see_a_draft(client, cabinet):
    ballot = draft(cabinet)
    log_in(client, "bt.tuphap")
    assert client.get("/ballots/new").status_code == 403
    assert client.get(f"/ballots/{ballot.id}").status_code == 404
    assert client.get(f"/ballots/{ballot.id}/edit").status_code == 403
    assert client.get("/ballots").status_code == 200
    assert ballot.title not in text(client.get("/ballots"))


# --- answering -------------------------------------------------------------------------------------


def test_a_recipient_answers_signs_changes_and_sees_the_history(client, cabinet):
    ballot = issued(cabinet)
    token = log_in(client, "bt.tuphap")
    page = text(client.get(f"/ballots/{ballot.id}"))
    assert 'name="sign-password"' in page and 'name="sign-otp"' not in page  # no second factor enrolled
    assert f'name="choice-{ballot.questions[0].id}" value="other"' in page
    assert "left" in page  # the time left

    wrong = client.post(f"/ballots/{ballot.id}/answer",
                        data=answer_form(ballot, token, "agree", "agree", password="not-my-password"))
    assert wrong.status_code == 422
    assert "The password is wrong." in text(wrong)
    assert current(ballot.id, cabinet["tuphap"]) is None

    no_comment = client.post(f"/ballots/{ballot.id}/answer",
                             data=answer_form(ballot, token, "other", "agree"))
    assert no_comment.status_code == 422
    html = text(no_comment)
    assert f'id="q-{ballot.questions[0].id}-err"' in html and "required with “Other opinion”" in html
    assert re.search(rf'name="choice-{ballot.questions[0].id}" value="other" data-choice\s+checked', html)
    assert current(ballot.id, cabinet["tuphap"]) is None

    sent = client.post(f"/ballots/{ballot.id}/answer",
                       data=answer_form(ballot, token, "other", "agree", comment="Đề nghị bổ sung Điều 5."))
    assert sent.status_code == 302
    first = current(ballot.id, cabinet["tuphap"])
    assert first.method == "password" and len(first.content_hash) == 64
    page = text(client.get(f"/ballots/{ballot.id}"))
    assert "Signed and sent on" in page and first.content_hash[:16] in page
    assert "Change my answer" in page and "Đề nghị bổ sung Điều 5." in page

    client.post(f"/ballots/{ballot.id}/answer", data=answer_form(ballot, token, "disagree", "agree"))
    second = current(ballot.id, cabinet["tuphap"])
    assert second.id != first.id and second.answers[0].choice == "disagree"
    page = text(client.get(f"/ballots/{ballot.id}"))
    assert "My history: 2 signed answers" in page and "replaced on" in page
    # a member sees neither the result nor the live bar
    assert "data-ballot-progress" not in page and "Who answered what" not in page


def test_a_member_the_ballot_was_not_sent_to_gets_404(client, cabinet):
    ballot = issued(cabinet, recipient_ids=[cabinet["pm"].id, cabinet["yte"].id])
    token = log_in(client, "bt.tuphap")
    assert client.get(f"/ballots/{ballot.id}").status_code == 404
    assert client.post(f"/ballots/{ballot.id}/answer",
                       data=answer_form(ballot, token, "agree", "agree")).status_code == 404
    assert current(ballot.id, cabinet["tuphap"]) is None


def test_after_the_deadline_the_page_says_so_and_an_answer_is_refused(client, cabinet):
    ballot = issued(cabinet)
    token = log_in(client, "bt.yte")
    assert 'name="sign-password"' in text(client.get(f"/ballots/{ballot.id}"))
    ballot.deadline = utcnow() - timedelta(minutes=5)  # the closing job has not run yet
    db.session.commit()
    page = text(client.get(f"/ballots/{ballot.id}"))
    assert "Deadline passed" in page and 'name="sign-password"' not in page
    late = client.post(f"/ballots/{ballot.id}/answer", data=answer_form(ballot, token, "agree", "agree"))
    assert late.status_code == 409
    assert "The deadline for this ballot has passed; answers are no longer accepted." in text(late)
    assert current(ballot.id, cabinet["yte"]) is None


def test_a_recalled_ballot_refuses_answers_with_its_reason(client, cabinet):
    ballot = issued(cabinet)
    staff = app_client(client)
    staff_token = log_in(staff, "thuky")
    member_token = log_in(client, "bt.yte")
    stale_form = answer_form(ballot, member_token, "agree", "agree")
    staff.post(f"/ballots/{ballot.id}/recall", data={"csrf_token": staff_token,
                                                     "recall-reason": "Hồ sơ cần bổ sung."})
    db.session.refresh(ballot)
    assert ballot.status == BallotStatus.RECALLED
    refused = client.post(f"/ballots/{ballot.id}/answer", data=stale_form)
    assert refused.status_code == 409 and "recalled" in text(refused)
    assert "Hồ sơ cần bổ sung." in text(client.get(f"/ballots/{ballot.id}"))


def app_client(client):
    """A second browser on the same app (another user)."""
    return client.application.test_client()


# --- the dossier ---------------------------------------------------------------------------------


def test_the_dossier_is_uploaded_by_staff_and_read_only_by_those_cleared(client, cabinet, make_user):
    cleared = make_user("bt.ngoaigiao", clearance="mat", full_name="Lý Thị Mai Anh")
    cabinet["thuky"].clearance = "tuyet_mat"
    db.session.commit()
    ballot = draft(cabinet)
    token = log_in(client, "thuky")
    missing = client.post(f"/ballots/{ballot.id}/documents",
                          data={"csrf_token": token, "doc-title": "", "doc-doc_type": "to_trinh",
                                "doc-secrecy": "mat"}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "has-error" in text(missing)
    added = client.post(f"/ballots/{ballot.id}/documents", content_type="multipart/form-data", data={
        "csrf_token": token, "doc-title": "Dự thảo Nghị định (Mật)", "doc-doc_type": "du_thao",
        "doc-secrecy": "mat", "doc-file": (io.BytesIO(blank_pdf(1)), "du-thao.pdf")})
    assert added.status_code == 302
    db.session.refresh(ballot)
    document = ballot.documents[0]
    assert document.secrecy == "mat" and document.pdf_sha256
    client.post(f"/ballots/{ballot.id}/issue", data={"csrf_token": token, "confirm": "yes"})
    url = f"/ballots/{ballot.id}/documents/{document.id}"

    member = app_client(client)
    log_in(member, "bt.tuphap")  # clearance none
    assert member.get(url + "/content").status_code == 403
    assert "Your clearance does not cover" in text(member.get(f"/ballots/{ballot.id}"))

    ballot_id, document_id = ballot.id, document.id
    reader = app_client(client)
    log_in(reader, "bt.ngoaigiao")  # a recipient cleared for Mật
    assert reader.get(url).status_code == 200
    served = reader.get(url + "/content")
    assert served.status_code == 200 and served.data.startswith(b"%PDF-")
    assert served.headers["Cache-Control"] == "no-store"
    assert served.data != blank_pdf(1)  # watermarked for the reader
    viewed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "ballot.document_viewed")).all()
    assert [(e.object_id, e.details["document_id"], e.details["watermarked"]) for e in viewed] == [
        (str(ballot_id), document_id, True)]
    stamped = PdfReader(io.BytesIO(served.data)).pages[0].extract_text()
    assert cleared.full_name in stamped and "MẬT" in stamped  # the reader's name on every page


# --- the result, paper answers, the decision --------------------------------------------------------


def test_staff_record_a_paper_answer_marked_as_such(client, cabinet):
    ballot = issued(cabinet)
    token = log_in(client, "thuky")
    page = text(client.get(f"/ballots/{ballot.id}"))
    assert "data-ballot-progress" in page and "0</span>/<span data-role=\"recipients\">5" in page
    data = answer_form(ballot, token, "agree", "disagree", prefix="paper-")
    data["paper-respondent"] = cabinet["yte"].id
    del data["sign-password"]
    recorded = client.post(f"/ballots/{ballot.id}/paper-answer", data=data)
    assert recorded.status_code == 302
    response = current(ballot.id, cabinet["yte"])
    assert response.method == "paper" and response.recorded_by_id == cabinet["thuky"].id
    page = text(client.get(f"/ballots/{ballot.id}"))
    assert "phiếu giấy" in page.lower()
    assert "1</span>/<span data-role=\"recipients\">5" in page

    member = app_client(client)
    log_in(member, "bt.yte")
    mine = text(member.get(f"/ballots/{ballot.id}"))
    assert "phiếu giấy" in mine.lower() and "recorded by Trần Thị Thu Hà" in mine


def test_only_the_decider_records_the_decision(client, cabinet):
    ballot = issued(cabinet)
    staff_token = log_in(client, "thuky")
    client.post(f"/ballots/{ballot.id}/close", data={"csrf_token": staff_token})
    db.session.refresh(ballot)
    assert ballot.status == BallotStatus.CLOSED

    member = app_client(client)
    token = log_in(member, "bt.tuphap")
    assert "Record the decision" not in text(member.get(f"/ballots/{ballot.id}"))
    assert member.post(f"/ballots/{ballot.id}/decision",
                       data={"csrf_token": token, "decision-decision": "Đồng ý."}).status_code == 403

    pm = app_client(client)
    token = log_in(pm, "thutuong")
    page = text(pm.get(f"/ballots/{ballot.id}"))
    assert "Record the decision" in page and "Who answered what" in page
    empty = pm.post(f"/ballots/{ballot.id}/decision", data={"csrf_token": token, "decision-decision": ""})
    assert empty.status_code == 400
    done = pm.post(f"/ballots/{ballot.id}/decision",
                   data={"csrf_token": token, "decision-decision": "Thống nhất ban hành Nghị định."})
    assert done.status_code == 302
    db.session.refresh(ballot)
    assert ballot.status == BallotStatus.DECIDED and ballot.decided_by_id == cabinet["pm"].id
    assert "Thống nhất ban hành Nghị định." in text(member.get(f"/ballots/{ballot.id}"))


def test_the_printed_form_and_the_report_are_for_staff_and_the_decider(client, cabinet):
    ballot = issued(cabinet)
    log_in(client, "thuky")
    form = client.get(f"/ballots/{ballot.id}/form.pdf")
    assert form.status_code == 200 and form.data.startswith(b"%PDF-")
    report = client.get(f"/ballots/{ballot.id}/report.pdf")
    assert report.status_code == 200 and report.data.startswith(b"%PDF-")
    assert report.headers["Cache-Control"] == "no-store"
    docx = client.get(f"/ballots/{ballot.id}/report.docx")
    assert docx.status_code == 200 and docx.data.startswith(b"PK")
    member = app_client(client)
    log_in(member, "bt.tuphap")
    assert member.get(f"/ballots/{ballot.id}/report.pdf").status_code == 403
    assert member.get(f"/ballots/{ballot.id}/form.pdf").status_code == 403


# --- the dashboard and the home page ---------------------------------------------------------------


def test_the_dashboard_filters_by_status_and_searches(client, cabinet):
    land = issued(cabinet, title="Dự thảo Nghị định về đất đai", number="45/PLYK-VPCP")
    budget = draft(cabinet, title="Đề án ngân sách nhà nước", number="46/PLYK-VPCP")
    service.submit_response(cabinet["tuphap"], land.id,
                            [service.AnswerData(q.id, "agree") for q in land.questions], password=PASSWORD)
    log_in(client, "thuky")
    page = text(client.get("/ballots"))
    assert land.title in page and budget.title in page
    assert "1/5" in page and "4 members" in page  # response rate and members who have not answered
    only_open = text(client.get("/ballots?status=open"))
    assert land.title in only_open and budget.title not in only_open
    found = text(client.get("/ballots?q=ng%C3%A2n+s%C3%A1ch"))
    assert budget.title in found and land.title not in found
    assert budget.title in text(client.get("/ballots?q=46/PLYK"))

    land.deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "Overdue" in text(client.get("/ballots?status=open"))


def test_members_see_their_ballots_open_first_with_the_time_left(client, cabinet):
    later = issued(cabinet, title="Phiếu sau", deadline=utcnow() + timedelta(days=4, hours=2))
    sooner = issued(cabinet, title="Phiếu trước", deadline=utcnow() + timedelta(days=2, hours=3, minutes=5))
    log_in(client, "bt.tuphap")
    home = text(client.get("/"))
    assert home.index("Opinion ballots to answer") < home.index("Upcoming meetings")
    assert home.index(sooner.title) < home.index(later.title)
    assert "2 days 3 hours left" in home and "Awaiting your answer" in home
    dashboard = text(client.get("/ballots"))
    assert dashboard.index(sooner.title) < dashboard.index(later.title)
    assert "Awaiting your answer" in dashboard

    service.submit_response(cabinet["tuphap"], sooner.id,
                            [service.AnswerData(q.id, "agree") for q in sooner.questions], password=PASSWORD)
    home = text(client.get("/"))
    assert home.index(later.title) < home.index(sooner.title)  # unanswered first
    assert "You have answered" in home


def test_the_home_page_shows_no_ballot_section_to_a_guest(client, cabinet):
    issued(cabinet)
    log_in(client, "khach")
    assert "Opinion ballots to answer" not in text(client.get("/"))


# --- the live response bar -----------------------------------------------------------------------


def test_ballot_watch_is_for_staff_and_the_decider_and_progress_follows_answers(app, client, cabinet):
    ballot = issued(cabinet)
    ballot_id = ballot.id
    member = app_client(client)
    log_in(member, "bt.tuphap")
    with fresh_context(app):
        refused = socketio.test_client(app, flask_test_client=member)
        ack = refused.emit("ballot.watch", {"ballot_id": ballot_id}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"
    with fresh_context(app):
        assert refused.emit("ballot.watch", {"ballot_id": "x"}, callback=True)["ok"] is False

    log_in(client, "thuky")
    with fresh_context(app):
        sio = socketio.test_client(app, flask_test_client=client)
        ack = sio.emit("ballot.watch", {"ballot_id": ballot_id}, callback=True)
    assert ack == {"ok": True, "ballot_id": ballot_id, "responded": 0, "recipients": 5, "status": "open"}
    sio.get_received()

    token = csrf_token(member, f"/ballots/{ballot_id}")
    ballot = db.session.get(Ballot, ballot_id)
    member.post(f"/ballots/{ballot_id}/answer", data=answer_form(ballot, token, "agree", "agree"))
    progress = [m["args"][0] for m in sio.get_received() if m["name"] == "ballot.progress"]
    assert progress == [{"ballot_id": ballot_id, "responded": 1, "recipients": 5, "status": "open"}]
    assert not [m for m in refused.get_received() if m["name"] == "ballot.progress"]

    pm = app_client(client)
    log_in(pm, "thutuong")  # the decider (also a recipient)
    with fresh_context(app):
        decider = socketio.test_client(app, flask_test_client=pm)
        ack = decider.emit("ballot.watch", {"ballot_id": ballot_id}, callback=True)
    assert ack["ok"] and ack["responded"] == 1


@pytest.mark.parametrize("path", ["/ballots/999999", "/ballots/999999/documents/1"])
def test_unknown_ballots_are_404(client, cabinet, path):
    log_in(client, "thuky")
    assert client.get(path).status_code == 404
