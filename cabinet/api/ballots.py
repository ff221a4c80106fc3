"""Opinion ballots through the JSON API (D12, D13): the same service as the pages."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, Field, StrictInt

from cabinet.api.framework import operation, query_int
from cabinet.api.meeting_schemas import Moment, PersonRef, optional
from cabinet.api.schemas import Strict
from cabinet.ballots import exports, service
from cabinet.ballots.models import Ballot, BallotResponse, BallotStatus
from cabinet.core.errors import ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.meetings.json import iso, person_ref

TAGS = ["ballots"]
BODY_ERRORS = (400, 413, 422)
PER_PAGE = 50
MAX_PAGE = 1_000_000  # past any real list; keeps the OFFSET within what the database takes
StatusName = Literal["draft", "open", "closed", "decided", "recalled"]
ChoiceName = Literal["agree", "disagree", "other"]
PolicyName = Literal["disagree", "agree"]


# --- bodies ---------------------------------------------------------------------------------------------


class BallotIn(Strict):
    title: str = Field(max_length=2000)
    questions: list[str] = Field(min_length=1, max_length=service.MAX_QUESTIONS)
    number: str = Field(default="", max_length=200, description="Số, ký hiệu, e.g. 45/PLYK-VPCP.")
    summary: str = Field(default="", max_length=20000)
    deadline: Moment | None = Field(
        default=None, description="Left out: D13's default, 5 working days after issue at 17:00 Hà Nội time.")
    no_answer_policy: PolicyName = Field(
        default="disagree", description="D13: a missing answer counts as not agreeing (default), or is "
                                        "deemed agreement.")
    decider_id: StrictInt | None = Field(default=None, description="Left out: the Prime Minister.")
    recipient_ids: list[StrictInt] | None = Field(
        default=None, max_length=500, description="Left out: every active Government member.")


class BallotPatch(Strict):
    title: str = optional(max_length=2000)
    questions: list[str] = optional(min_length=1, max_length=service.MAX_QUESTIONS)
    number: str = optional(max_length=200)
    summary: str = optional(max_length=20000)
    deadline: Moment = optional()
    no_answer_policy: PolicyName = optional()
    decider_id: StrictInt = optional()
    recipient_ids: list[StrictInt] = optional(max_length=500)


class AnswerIn(Strict):
    question_id: StrictInt
    choice: ChoiceName = Field(description="agree (Đồng ý), disagree (Không đồng ý), other (Ý kiến khác: "
                                           "a comment is required).")
    comment: str = Field(default="", max_length=service.MAX_COMMENT)


class ResponseIn(Strict):
    answers: list[AnswerIn] = Field(min_length=1, max_length=service.MAX_QUESTIONS)
    password: str = Field(min_length=1, max_length=256, description="Your signature (D12): your password…")
    otp: str | None = Field(default=None, max_length=10, description="…and your 6-digit code if enrolled.")


class BallotRecallIn(Strict):
    reason: str = Field(max_length=2000)


class DecisionIn(Strict):
    decision: str = Field(max_length=20000)


# --- answers ----------------------------------------------------------------------------------------------


class QuestionOut(BaseModel):
    id: int
    position: int
    text: str


class BallotDocumentOut(BaseModel):
    id: int
    title: str
    doc_type: str
    secrecy: str
    page_count: int | None


class MyBallotOut(BaseModel):
    recipient: bool
    answered_at: str | None
    can_answer: bool


class BallotOut(BaseModel):
    id: int
    number: str
    title: str
    summary: str
    status: StatusName
    deadline: str
    accepts_answers: bool
    no_answer_policy: PolicyName
    decider: PersonRef | None
    version: int
    issued_at: str | None
    closed_at: str | None
    decided_at: str | None
    decision: str
    recall_reason: str
    questions: list[QuestionOut]
    documents: list[BallotDocumentOut]
    recipients: int
    responded: int | None = Field(description="For the secretariat and the decider; null otherwise.")
    me: MyBallotOut


class BallotList(BaseModel):
    ballots: list[BallotOut]
    page: int
    per_page: int
    total: int


class AnswerOut(BaseModel):
    question_id: int
    choice: ChoiceName
    comment: str


class ResponseOut(BaseModel):
    id: int
    respondent: PersonRef
    ballot_version: int
    submitted_at: str
    content_hash: str
    method: Literal["password", "password_otp", "paper"]
    current: bool
    answers: list[AnswerOut]


class ResponsesOut(BaseModel):
    current: ResponseOut | None
    history: list[ResponseOut]


class MemberAnswerOut(BaseModel):
    member: PersonRef
    choice: ChoiceName
    comment: str
    method: str


class QuestionResultOut(BaseModel):
    question: QuestionOut
    counts: dict[str, int]
    agreeing: int
    threshold: int
    passed: bool
    answers: list[MemberAnswerOut]


class ResultOut(BaseModel):
    ballot_id: int
    status: StatusName
    recipients: int
    responded: int
    no_answer_policy: PolicyName
    basis: str
    questions: list[QuestionResultOut]
    non_respondents: list[PersonRef]


# --- serialisers ------------------------------------------------------------------------------------------


def ballot_json(ballot: Ballot, viewer, counts: dict[int, int] | None = None,
                answered: dict | None = None) -> dict:
    """``counts`` and ``answered`` (from service.responded_counts / answered_at) spare a list two
    queries per ballot."""
    now = utcnow()
    counts = service.responded_counts([ballot.id]) if counts is None else counts
    answered = service.answered_at(viewer, [ballot.id]) if answered is None else answered
    responded = counts.get(ballot.id, 0) if service.can_see_result(viewer, ballot) else None
    return {
        "id": ballot.id, "number": ballot.number, "title": ballot.title, "summary": ballot.summary,
        "status": ballot.status, "deadline": iso(ballot.deadline),
        "accepts_answers": ballot.accepts_answers(now), "no_answer_policy": ballot.no_answer_policy,
        "decider": person_ref(ballot.decider), "version": ballot.version,
        "issued_at": iso(ballot.issued_at), "closed_at": iso(ballot.closed_at),
        "decided_at": iso(ballot.decided_at), "decision": ballot.decision,
        "recall_reason": ballot.recall_reason,
        "questions": [{"id": q.id, "position": q.position, "text": q.text} for q in ballot.questions],
        "documents": [{"id": d.id, "title": d.title, "doc_type": d.doc_type, "secrecy": d.secrecy,
                       "page_count": d.page_count} for d in ballot.documents],
        "recipients": len(ballot.recipients), "responded": responded,
        "me": {"recipient": ballot.is_recipient(viewer.id),
               "answered_at": iso(answered.get(ballot.id)),
               "can_answer": ballot.is_recipient(viewer.id) and ballot.accepts_answers(now)},
    }


def response_json(response: BallotResponse) -> dict:
    return {"id": response.id, "respondent": person_ref(response.respondent),
            "ballot_version": response.ballot_version, "submitted_at": iso(response.submitted_at),
            "content_hash": response.content_hash, "method": response.method,
            "current": response.superseded_at is None,
            "answers": [{"question_id": a.question_id, "choice": a.choice, "comment": a.comment}
                        for a in response.answers]}


def result_json(result: service.Result) -> dict:
    ballot = result.ballot
    return {
        "ballot_id": ballot.id, "status": ballot.status, "recipients": result.recipients,
        "responded": result.responded, "no_answer_policy": ballot.no_answer_policy, "basis": result.basis,
        "questions": [{
            "question": {"id": q.question.id, "position": q.question.position, "text": q.question.text},
            "counts": q.counts, "agreeing": q.agreeing, "threshold": q.threshold, "passed": q.passed,
            "answers": [{"member": person_ref(user), "choice": answer.choice, "comment": answer.comment,
                         "method": response.method} for user, answer, response in q.answers],
        } for q in result.questions],
        "non_respondents": [person_ref(u) for u in result.non_respondents],
    }


def _data(body: BallotIn | BallotPatch, base: Ballot | None = None) -> service.BallotData:
    given = body.model_fields_set

    def pick(name, current):
        return getattr(body, name) if name in given else current

    return service.BallotData(
        title=pick("title", base.title if base else ""),
        questions=pick("questions", [q.text for q in base.questions] if base else []),
        number=pick("number", base.number if base else ""),
        summary=pick("summary", base.summary if base else ""),
        deadline=pick("deadline", base.deadline if base else None),
        no_answer_policy=pick("no_answer_policy", base.no_answer_policy if base else "disagree"),
        decider_id=pick("decider_id", base.decider_id if base else None),
        recipient_ids=pick("recipient_ids", [r.user_id for r in base.recipients] if base else None))


# --- endpoints --------------------------------------------------------------------------------------------


@operation("GET", "/ballots", summary="Ballots: yours, or all of them for the secretariat", tags=TAGS,
           response=BallotList, errors=(422,),
           query={"status": {"type": "string", "enum": [s.value for s in BallotStatus]},
                  "q": {"type": "string", "description": "Search in the title and number."},
                  "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                           "description": "50 ballots a page."}})
def list_ballots(user):
    status = request.args.get("status") or None
    if status is not None and status not in BallotStatus.__members__.values():
        raise ValidationError(_("Unknown status."), details={"fields": {"status": _("Unknown status.")}})
    page = query_int("page", maximum=MAX_PAGE) or 1
    q = request.args.get("q", "")
    ballots = service.visible_ballots(user, status=status, q=q, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    ids = [b.id for b in ballots]
    counts, answered = service.responded_counts(ids), service.answered_at(user, ids)
    return jsonify({"ballots": [ballot_json(b, user, counts, answered) for b in ballots],
                    "page": page, "per_page": PER_PAGE,
                    "total": service.count_visible(user, status=status, q=q)})


@operation("POST", "/ballots", summary="Draft a ballot (secretariat)", tags=TAGS, body=BallotIn,
           response=BallotOut, status=201, errors=(*BODY_ERRORS, 403))
def create_ballot(user, body: BallotIn):
    return jsonify(ballot_json(service.create_ballot(user, _data(body)), user)), 201


@operation("GET", "/ballots/<int:ballot_id>", summary="One ballot", tags=TAGS, response=BallotOut,
           errors=(404,))
def get_ballot(user, ballot_id: int):
    return jsonify(ballot_json(service.get_ballot(user, ballot_id), user))


@operation("PATCH", "/ballots/<int:ballot_id>", summary="Edit a draft (secretariat)", tags=TAGS,
           body=BallotPatch, response=BallotOut, errors=(*BODY_ERRORS, 403, 404, 409),
           description="Fields left out keep their values; every edit raises the version. 409 once issued.")
def update_ballot(user, ballot_id: int, body: BallotPatch):
    base = service.get_ballot(user, ballot_id)
    return jsonify(ballot_json(service.update_ballot(user, ballot_id, _data(body, base)), user))


@operation("POST", "/ballots/<int:ballot_id>/issue", summary="Issue a draft to its recipients (secretariat)",
           tags=TAGS, response=BallotOut, errors=(403, 404, 409, 422))
def issue_ballot(user, ballot_id: int):
    return jsonify(ballot_json(service.issue_ballot(user, ballot_id), user))


@operation("POST", "/ballots/<int:ballot_id>/recall", summary="Recall an open ballot (secretariat)",
           tags=TAGS, body=BallotRecallIn, response=BallotOut, errors=(*BODY_ERRORS, 403, 404, 409))
def recall_ballot(user, ballot_id: int, body: BallotRecallIn):
    return jsonify(ballot_json(service.recall_ballot(user, ballot_id, body.reason), user))


@operation("POST", "/ballots/<int:ballot_id>/close", summary="Close an open ballot early (secretariat)",
           tags=TAGS, response=BallotOut, errors=(403, 404, 409))
def close_ballot(user, ballot_id: int):
    return jsonify(ballot_json(service.close_ballot(user, ballot_id), user))


@operation("GET", "/ballots/<int:ballot_id>/responses", summary="Your answer and its history", tags=TAGS,
           response=ResponsesOut, errors=(403, 404, 422),
           query={"user_id": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                              "description": "Another member's (secretariat, decider)."}})
def get_responses(user, ballot_id: int):
    responses = service.history(user, ballot_id, query_int("user_id"))
    current = next((r for r in responses if r.superseded_at is None), None)
    return jsonify({"current": response_json(current) if current else None,
                    "history": [response_json(r) for r in responses]})


@operation("POST", "/ballots/<int:ballot_id>/responses", summary="Answer and sign (recipients)", tags=TAGS,
           body=ResponseIn, response=ResponseOut, status=201, errors=(*BODY_ERRORS, 403, 404, 409, 429),
           description="Every question must be answered; `other` needs a comment. Signed with your "
                       "password (and your code when enrolled): 422 `signature_failed` otherwise. Sending "
                       "again before the deadline replaces your answer; the previous one is kept in the "
                       "history. 409 `deadline_passed`, `ballot_recalled`.")
def answer_ballot(user, ballot_id: int, body: ResponseIn):
    answers = [service.AnswerData(a.question_id, a.choice, a.comment) for a in body.answers]
    response = service.submit_response(user, ballot_id, answers, password=body.password, otp=body.otp)
    return jsonify(response_json(response)), 201


@operation("GET", "/ballots/<int:ballot_id>/result", summary="The result by D13 (secretariat, decider)",
           tags=TAGS, response=ResultOut, errors=(403, 404))
def ballot_result(user, ballot_id: int):
    return jsonify(result_json(service.result(user, ballot_id)))


@operation("POST", "/ballots/<int:ballot_id>/decision", summary="Record the decision (the decider)",
           tags=TAGS, body=DecisionIn, response=BallotOut, errors=(*BODY_ERRORS, 403, 404, 409))
def decide_ballot(user, ballot_id: int, body: DecisionIn):
    return jsonify(ballot_json(service.record_decision(user, ballot_id, body.decision), user))


def _send(export) -> Response:
    response = Response(export.content, mimetype=export.media_type)
    response.headers["Content-Disposition"] = f"attachment; filename={export.filename}"
    response.headers["Cache-Control"] = "no-store"
    return response


@operation("GET", "/ballots/<int:ballot_id>/report.pdf", summary="The summary report as PDF/A (secretariat, "
           "decider)", tags=TAGS, produces=exports.PDF, errors=(403, 404),
           description="Báo cáo tổng hợp ý kiến thành viên Chính phủ, in the layout of Nghị định 30/2020. "
                       "Interim while the ballot is open. Each export is audited.")
def ballot_report_pdf(user, ballot_id: int):
    return _send(exports.report(user, ballot_id, "pdf"))


@operation("GET", "/ballots/<int:ballot_id>/report.docx", summary="The summary report as DOCX (secretariat, "
           "decider)", tags=TAGS, produces=exports.DOCX, errors=(403, 404))
def ballot_report_docx(user, ballot_id: int):
    return _send(exports.report(user, ballot_id, "docx"))


@operation("GET", "/ballots/<int:ballot_id>/form.pdf", summary="The printed ballot form (recipients, "
           "secretariat)", tags=TAGS, produces=exports.PDF, errors=(403, 404),
           description="PHIẾU LẤY Ý KIẾN THÀNH VIÊN CHÍNH PHỦ: a draft's preview, or the paper form for a "
                       "member who answers on paper.")
def ballot_form_pdf(user, ballot_id: int):
    return _send(exports.blank_form(user, ballot_id, "pdf"))
