"""Opinion ballots through the JSON API, each answer checked against the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from tests.conftest import PASSWORD
from tests.test_api_meetings import error, fields


def _deadline(days: int = 3) -> str:
    return (utcnow() + timedelta(days=days)).isoformat()


def _new(api, **changes):
    body = {"title": "Dự thảo Nghị định về quản lý đất đai", "number": "45/PLYK-VPCP",
            "questions": ["Đồng ý thông qua dự thảo?", "Đồng ý giao Bộ Tư pháp chủ trì?"],
            "deadline": _deadline(), **changes}
    answer = api("thuky", "POST", "/api/v1/ballots", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _answers(ballot, *choices, comment=""):
    return [{"question_id": q["id"], "choice": c, "comment": comment}
            for q, c in zip(ballot["questions"], choices, strict=True)]


def test_the_secretariat_drafts_edits_and_issues_a_ballot(api, cabinet):
    ballot = _new(api)
    assert ballot["status"] == "draft" and ballot["recipients"] == 5
    assert ballot["decider"]["full_name"] == "Phạm Quốc Hưng"
    error(api("bt.tuphap", "GET", f"/api/v1/ballots/{ballot['id']}"), 404)  # drafts are not shown
    error(api("bt.tuphap", "POST", "/api/v1/ballots", json={"title": "X", "questions": ["?"]}), 403)
    edited = api("thuky", "PATCH", f"/api/v1/ballots/{ballot['id']}",
                 json={"questions": ["Câu hỏi duy nhất?"], "no_answer_policy": "agree"}).get_json()
    assert edited["version"] == 2 and [q["text"] for q in edited["questions"]] == ["Câu hỏi duy nhất?"]
    assert edited["title"] == ballot["title"]  # left out: unchanged
    issued = api("thuky", "POST", f"/api/v1/ballots/{ballot['id']}/issue").get_json()
    assert issued["status"] == "open" and issued["accepts_answers"]
    error(api("thuky", "PATCH", f"/api/v1/ballots/{ballot['id']}", json={"title": "Khác"}), 409)
    mine = api("bt.tuphap", "GET", "/api/v1/ballots").get_json()["ballots"]
    assert [b["id"] for b in mine] == [ballot["id"]] and mine[0]["me"]["can_answer"]
    assert mine[0]["responded"] is None  # the count of answers is for the secretariat and the decider


def test_bad_drafts_name_their_fields(api, cabinet):
    empty = {"title": "X", "questions": []}
    assert {"questions"} <= fields(api("thuky", "POST", "/api/v1/ballots", json=empty))
    assert "deadline" in fields(api("thuky", "POST", "/api/v1/ballots",
                                    json={"title": "X", "questions": ["?"], "deadline": "2026-01-01T00:00"}))
    assert "recipient_ids" in fields(api("thuky", "POST", "/api/v1/ballots", json={
        "title": "X", "questions": ["?"], "recipient_ids": [cabinet["guest"].id]}))
    assert "status" in fields(api("thuky", "GET", "/api/v1/ballots?status=maybe"))


def test_a_member_answers_signs_changes_and_reads_the_history(api, cabinet):
    ballot = _new(api)
    api("thuky", "POST", f"/api/v1/ballots/{ballot['id']}/issue")
    url = f"/api/v1/ballots/{ballot['id']}/responses"
    wrong = error(api("bt.tuphap", "POST", url, json={"answers": _answers(ballot, "agree", "agree"),
                                                      "password": "wrong-password"}), 422)
    assert wrong["code"] == "signature_failed"
    other = api("bt.tuphap", "POST", url, json={"answers": _answers(ballot, "other", "agree"),
                                                "password": PASSWORD})
    assert f"question_{ballot['questions'][0]['id']}" in fields(other)
    first = api("bt.tuphap", "POST", url, json={"answers": _answers(ballot, "disagree", "agree"),
                                                "password": PASSWORD})
    assert first.status_code == 201 and first.get_json()["method"] == "password"
    second = api("bt.tuphap", "POST", url, json={"answers": _answers(ballot, "other", "agree",
                                                                     comment="Bổ sung Điều 5"),
                                                 "password": PASSWORD}).get_json()
    mine = api("bt.tuphap", "GET", url).get_json()
    assert mine["current"]["id"] == second["id"] and len(mine["history"]) == 2
    assert mine["current"]["answers"][0] == {"question_id": ballot["questions"][0]["id"], "choice": "other",
                                             "comment": "Bổ sung Điều 5"}
    error(api("bt.tuphap", "GET", f"{url}?user_id={cabinet['yte'].id}"), 403)
    error(api("khach", "POST", url, json={"answers": _answers(ballot, "agree", "agree"),
                                          "password": PASSWORD}), 404)
    error(api("thuky", "POST", url, json={"answers": _answers(ballot, "agree", "agree"),
                                          "password": PASSWORD}), 403)


def test_late_answers_are_refused_and_the_decider_reads_the_result_and_decides(api, cabinet):
    from cabinet.ballots.models import Ballot

    ballot = _new(api, recipient_ids=[cabinet["pm"].id, cabinet["tuphap"].id, cabinet["yte"].id])
    api("thuky", "POST", f"/api/v1/ballots/{ballot['id']}/issue")
    url = f"/api/v1/ballots/{ballot['id']}"
    for username, choice in (("thutuong", "agree"), ("bt.tuphap", "agree")):
        api(username, "POST", f"{url}/responses", json={"answers": _answers(ballot, choice, "disagree"),
                                                        "password": PASSWORD})
    stored = db.session.get(Ballot, ballot["id"])
    stored.deadline = utcnow() - timedelta(minutes=1)  # the deadline passed; the job has not run
    db.session.commit()
    late = error(api("bt.yte", "POST", f"{url}/responses",
                     json={"answers": _answers(ballot, "agree", "agree"), "password": PASSWORD}), 409)
    assert late["code"] == "deadline_passed"
    error(api("bt.tuphap", "GET", f"{url}/result"), 403)
    result = api("thutuong", "GET", f"{url}/result").get_json()
    assert [q["passed"] for q in result["questions"]] == [True, False]
    assert result["questions"][0]["counts"] == {"agree": 2, "disagree": 0, "other": 0}
    assert [p["full_name"] for p in result["non_respondents"]] == ["Tôn Nữ Thanh Thủy"]
    error(api("bt.tuphap", "POST", f"{url}/decision", json={"decision": "Đồng ý"}), 403)
    decided = api("thutuong", "POST", f"{url}/decision", json={"decision": "Đồng ý ban hành."}).get_json()
    assert decided["status"] == "decided" and decided["decision"] == "Đồng ý ban hành."


def test_a_recalled_ballot_refuses_answers(api, cabinet):
    ballot = _new(api)
    url = f"/api/v1/ballots/{ballot['id']}"
    api("thuky", "POST", f"{url}/issue")
    assert "reason" in fields(api("thuky", "POST", f"{url}/recall", json={"reason": " "}))
    api("thuky", "POST", f"{url}/recall", json={"reason": "Cần bổ sung hồ sơ"})
    refused = error(api("bt.tuphap", "POST", f"{url}/responses",
                        json={"answers": _answers(ballot, "agree", "agree"), "password": PASSWORD}), 409)
    assert refused["code"] == "ballot_recalled"


def test_the_report_and_the_form_are_exported_to_those_who_may_have_them(api, cabinet):
    import io

    from docx import Document as Docx
    from pypdf import PdfReader

    from cabinet.audit.models import AuditEntry

    ballot = _new(api)
    url = f"/api/v1/ballots/{ballot['id']}"
    preview = api("thuky", "GET", f"{url}/form.pdf")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert "PHIẾU LẤY Ý KIẾN" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(preview.data)).pages)
    error(api("bt.tuphap", "GET", f"{url}/form.pdf"), 404)  # a draft is the secretariat's
    api("thuky", "POST", f"{url}/issue")
    assert api("bt.tuphap", "GET", f"{url}/form.pdf").status_code == 200
    error(api("khach", "GET", f"{url}/form.pdf"), 404)
    api("bt.tuphap", "POST", f"{url}/responses", json={"answers": _answers(ballot, "agree", "other",
                                                                           comment="Cần làm rõ"),
                                                      "password": PASSWORD})
    error(api("bt.tuphap", "GET", f"{url}/report.pdf"), 403)
    pdf = api("thutuong", "GET", f"{url}/report.pdf")
    assert pdf.headers["Cache-Control"] == "no-store"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Phan Thị Ngọc Diệp" in text and "Cần làm rõ" in text
    docx = api("thuky", "GET", f"{url}/report.docx")
    cells = [c.text for t in Docx(io.BytesIO(docx.data)).tables for r in t.rows for c in r.cells]
    assert "Phan Thị Ngọc Diệp" in cells
    exported = db.session.query(AuditEntry.action).filter(AuditEntry.object_type == "ballot").all()
    assert ("ballot.report_exported",) in exported and ("ballot.form_exported",) in exported
