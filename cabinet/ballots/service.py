"""The rules of opinion ballots (D12, D13): drafting, issuing, signed answers, deadlines,
reminders, the result and the decision.

Every function takes the acting user first (``None`` for the system's own jobs), checks what
they may do, writes the audit trail and commits. ``now`` parameters exist so tests (and the
catch-up after downtime) control the clock; they default to the real time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from cabinet.audit import service as audit
from cabinet.auth import service as auth_service
from cabinet.auth.passwords import verify_password
from cabinet.ballots.models import (
    Ballot,
    BallotAnswer,
    BallotDocument,
    BallotQuestion,
    BallotRecipient,
    BallotReminder,
    BallotResponse,
    BallotStatus,
    Choice,
    NoAnswerPolicy,
    SignatureMethod,
)
from cabinet.core import signals
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationError
from cabinet.core.scanning import throttle_upload
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.i18n import vietnamese_name_key
from cabinet.meetings.access import cleared_for, is_staff, require_staff
from cabinet.rules import rules
from cabinet.users.models import Clearance, Role, User

MAX_QUESTIONS = 50
MAX_COMMENT = 5000
PM_TITLE = "Thủ tướng Chính phủ"


_fields_error = ValidationError.of_fields


# --- who sees what ---------------------------------------------------------------------------------


def can_see(user: User, ballot: Ballot) -> bool:
    """Staff see every ballot; recipients and the decider see it once issued."""
    if is_staff(user):
        return True
    if ballot.status == BallotStatus.DRAFT:
        return False
    return ballot.decider_id == user.id or ballot.is_recipient(user.id)


def can_see_result(user: User, ballot: Ballot) -> bool:
    """The full result (who answered what) is for the secretariat and the decider."""
    return is_staff(user) or ballot.decider_id == user.id


def get_ballot(user: User, ballot_id: int) -> Ballot:
    valid = isinstance(ballot_id, int) and 0 < ballot_id <= MAX_ID
    ballot = db.session.get(Ballot, ballot_id) if valid else None
    if ballot is None or not can_see(user, ballot):
        raise NotFound(_("No such ballot, or it was not sent to you."))
    return ballot


def _visible_statement(user: User, status: str | None, q: str):
    stmt = select(Ballot)
    if not is_staff(user):
        mine = select(BallotRecipient.ballot_id).where(BallotRecipient.user_id == user.id)
        stmt = stmt.where(Ballot.status != BallotStatus.DRAFT.value,
                          (Ballot.decider_id == user.id) | Ballot.id.in_(mine))
    if status:
        stmt = stmt.where(Ballot.status == status)
    q = " ".join((q or "").split())[:200]
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(func.lower(Ballot.title).like(like) | func.lower(Ballot.number).like(like))
    return stmt


def visible_ballots(user: User, *, status: str | None = None, q: str = "", limit: int | None = None,
                    offset: int = 0) -> list[Ballot]:
    """The ballots the user may see: open ones first (nearest deadline first), then drafts, then the
    rest, newest first. ``limit``/``offset`` page through them; a page costs the same few queries
    however many ballots and members there are."""
    rank = case({BallotStatus.OPEN.value: 0, BallotStatus.DRAFT.value: 1}, value=Ballot.status, else_=2)
    open_deadline = case((Ballot.status == BallotStatus.OPEN.value, Ballot.deadline), else_=None)
    stmt = (_visible_statement(user, status, q)
            .options(selectinload(Ballot.recipients), selectinload(Ballot.questions),
                     selectinload(Ballot.documents))
            .order_by(rank, open_deadline.asc().nulls_last(), Ballot.id.desc())
            .offset(max(0, offset)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def count_visible(user: User, *, status: str | None = None, q: str = "") -> int:
    stmt = _visible_statement(user, status, q).with_only_columns(func.count(Ballot.id))
    return db.session.scalar(stmt) or 0


# --- drafting ------------------------------------------------------------------------------------------


@dataclass
class BallotData:
    title: str
    questions: list[str]
    number: str = ""
    summary: str = ""
    deadline: datetime | None = None  # None: D13's default (working days after issue)
    no_answer_policy: str = NoAnswerPolicy.DISAGREE.value
    decider_id: int | None = None  # None: the Prime Minister
    recipient_ids: list[int] | None = None  # None: every active Government member
    fields_given: set[str] = field(default_factory=set)


def default_recipients() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == Role.MEMBER.value, User.active.is_(True))
                                   .order_by(User.id)))


def default_decider() -> User | None:
    return db.session.scalars(select(User).where(User.role == Role.MEMBER.value, User.active.is_(True),
                                                 User.title == PM_TITLE).order_by(User.id)).first()


def _clean(data: BallotData, *, now: datetime) -> dict:
    errors: dict[str, str] = {}
    title = " ".join((data.title or "").split())
    if not title:
        errors["title"] = _("The title is required.")
    elif len(title) > 500:
        errors["title"] = _("At most %(max)d characters.", max=500)
    number = " ".join((data.number or "").split())
    if len(number) > 60:
        errors["number"] = _("At most %(max)d characters.", max=60)
    questions = [" ".join(q.split()) for q in (data.questions or []) if q and q.strip()]
    if not questions:
        errors["questions"] = _("Ask at least one question.")
    elif len(questions) > MAX_QUESTIONS:
        errors["questions"] = _("At most %(max)d questions.", max=MAX_QUESTIONS)
    elif any(len(q) > 4000 for q in questions):
        errors["questions"] = _("A question has at most %(max)d characters.", max=4000)
    if data.no_answer_policy not in NoAnswerPolicy.__members__.values():
        errors["no_answer_policy"] = _("Unknown rule for missing answers.")
    deadline = data.deadline
    if deadline is not None:
        if deadline.tzinfo is None:
            raise ValueError("deadlines must be aware datetimes")
        if deadline <= now:
            errors["deadline"] = _("The deadline must be in the future.")
        elif deadline - now > timedelta(days=366):
            errors["deadline"] = _("The deadline must be within a year.")
    recipients = default_recipients() if data.recipient_ids is None else _users(data.recipient_ids)
    if data.recipient_ids is not None and len(recipients) != len(set(data.recipient_ids)):
        errors["recipient_ids"] = _("A recipient does not exist or is disabled.")
    elif any(u.role != Role.MEMBER for u in recipients):
        errors["recipient_ids"] = _("Ballots go to Government members only.")
    elif not recipients:
        errors["recipient_ids"] = _("Choose at least one recipient.")
    if data.decider_id is None:
        decider = default_decider()
    else:
        found = _users([data.decider_id])
        decider = found[0] if found else None
        if decider is None:
            errors["decider_id"] = _("Choose an active account for the decision.")
    if errors:
        raise _fields_error(errors)
    return {"title": title, "number": number, "summary": (data.summary or "").strip()[:20000],
            "questions": questions, "deadline": deadline or rules().ballot_deadline(now),
            "no_answer_policy": data.no_answer_policy, "decider": decider, "recipients": recipients}


def _users(ids: list[int]) -> list[User]:
    ids = [i for i in ids if isinstance(i, int) and 0 < i <= MAX_ID]
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True))))


def _apply(ballot: Ballot, values: dict) -> None:
    ballot.title = values["title"]
    ballot.number = values["number"]
    ballot.summary = values["summary"]
    ballot.deadline = values["deadline"]
    ballot.no_answer_policy = values["no_answer_policy"]
    ballot.decider_id = values["decider"].id if values["decider"] is not None else None
    existing = [q for q in ballot.questions]
    for position, text in enumerate(values["questions"], start=1):
        if position <= len(existing):
            existing[position - 1].text = text
            existing[position - 1].position = position
        else:
            ballot.questions.append(BallotQuestion(position=position, text=text))
    for extra in existing[len(values["questions"]):]:
        ballot.questions.remove(extra)
    wanted = {u.id for u in values["recipients"]}
    for recipient in list(ballot.recipients):
        if recipient.user_id not in wanted:
            ballot.recipients.remove(recipient)
    have = {r.user_id for r in ballot.recipients}
    for user_id in sorted(wanted - have):
        ballot.recipients.append(BallotRecipient(user_id=user_id))


def create_ballot(actor: User, data: BallotData, *, now: datetime | None = None) -> Ballot:
    """Draft a ballot (secretariat)."""
    require_staff(actor)
    values = _clean(data, now=now or utcnow())
    ballot = Ballot(created_by_id=actor.id, status=BallotStatus.DRAFT.value, version=1)
    _apply(ballot, values)
    db.session.add(ballot)
    db.session.flush()
    audit.record("ballot.created", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"title": ballot.title, "questions": len(ballot.questions),
                          "recipients": len(ballot.recipients), "deadline": ballot.deadline.isoformat()})
    db.session.commit()
    return ballot


def _draft(actor: User, ballot_id: int) -> Ballot:
    require_staff(actor)
    ballot = get_ballot(actor, ballot_id)
    if ballot.status != BallotStatus.DRAFT:
        raise Conflict(_("This ballot was issued; it can no longer be edited. Recall it and draft a new "
                         "one if it must change."), code="not_draft")
    return ballot


def update_ballot(actor: User, ballot_id: int, data: BallotData, *, now: datetime | None = None) -> Ballot:
    """Edit a draft; every edit raises its version."""
    ballot = _draft(actor, ballot_id)
    values = _clean(data, now=now or utcnow())
    _apply(ballot, values)
    ballot.version += 1
    audit.record("ballot.updated", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"version": ballot.version})
    db.session.commit()
    return ballot


def add_document(actor: User, ballot_id: int, *, stream: BinaryIO, filename: str | None, title: str,
                 doc_type: str = "to_trinh", secrecy: str = Clearance.NONE.value) -> BallotDocument:
    """Add a file to a draft's dossier: checked and stored like a meeting document."""
    from cabinet.documents import service as documents
    from cabinet.documents.models import DocType

    ballot = _draft(actor, ballot_id)
    errors = {}
    title = " ".join((title or "").split())
    if not title:
        errors["title"] = _("The title is required.")
    if doc_type not in DocType.__members__.values():
        errors["doc_type"] = _("Unknown document type.")
    if secrecy not in Clearance.__members__.values():
        errors["secrecy"] = _("Unknown secrecy level.")
    elif not cleared_for(actor, secrecy):
        errors["secrecy"] = _("Your clearance does not cover this level.")
    if errors:
        raise _fields_error(errors)
    ballot_id = ballot.id
    throttle_upload(actor)
    documents.end_read_transaction()  # no transaction held while the file is checked and stored
    facts = documents.ingest(stream, filename, classified=secrecy != Clearance.NONE, actor=actor,
                             what="ballot_document")
    ballot = _draft(actor, ballot_id)
    document = BallotDocument(
        ballot_id=ballot.id, title=title[:500], doc_type=doc_type, secrecy=secrecy,
        original_filename=facts.original_filename, media_type=facts.media_type,
        blob_sha256=facts.blob_sha256, size=facts.size, pdf_sha256=facts.pdf_sha256,
        page_count=facts.page_count, conversion_note=facts.conversion_note, uploaded_by_id=actor.id)
    db.session.add(document)
    ballot.version += 1
    db.session.flush()
    audit.record("ballot.document_added", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"document_id": document.id, "sha256": document.blob_sha256,
                          "secrecy": secrecy, "version": ballot.version})
    db.session.commit()
    return document


def remove_document(actor: User, ballot_id: int, document_id: int) -> None:
    ballot = _draft(actor, ballot_id)
    document = next((d for d in ballot.documents if d.id == document_id), None)
    if document is None:
        raise NotFound(_("No such document in this ballot."))
    ballot.documents.remove(document)
    ballot.version += 1
    audit.record("ballot.document_removed", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"document_id": document_id, "version": ballot.version})
    db.session.commit()


def issue_ballot(actor: User, ballot_id: int, *, now: datetime | None = None) -> Ballot:
    """Issue (phát hành) a draft: recipients are notified and may answer until the deadline."""
    now = now or utcnow()
    ballot = _draft(actor, ballot_id)
    errors = {}
    if not ballot.questions:
        errors["questions"] = _("Ask at least one question.")
    if not ballot.recipients:
        errors["recipient_ids"] = _("Choose at least one recipient.")
    notice = rules().ballot_min_notice_minutes
    if ballot.deadline <= now + timedelta(minutes=notice):
        errors["deadline"] = (_("The deadline must be at least an hour after issue.") if notice == 60 else
                              _("The deadline must be at least %(minutes)d minutes after issue.",
                                minutes=notice))
    if ballot.decider_id is None:
        errors["decider_id"] = _("Name who decides on the result (the Prime Minister).")
    if errors:
        raise _fields_error(errors)
    ballot.status = BallotStatus.OPEN.value
    ballot.issued_at = now
    ballot.issued_by_id = actor.id
    audit.record("ballot.issued", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"version": ballot.version, "deadline": ballot.deadline.isoformat(),
                          "recipients": [r.user_id for r in ballot.recipients]})
    db.session.commit()
    signals.ballot_issued.send(actor, ballot_id=ballot.id)
    return ballot


def recall_ballot(actor: User, ballot_id: int, reason: str) -> Ballot:
    """Withdraw an issued ballot: answers are no longer accepted (those given are kept)."""
    require_staff(actor)
    ballot = get_ballot(actor, ballot_id)
    reason = (reason or "").strip()
    if not reason:
        raise _fields_error({"reason": _("Give the reason for the recall.")})
    if ballot.status != BallotStatus.OPEN:
        raise Conflict(_("Only an open ballot can be recalled."), code="not_open")
    ballot.status = BallotStatus.RECALLED.value
    ballot.recalled_at = utcnow()
    ballot.recalled_by_id = actor.id
    ballot.recall_reason = reason[:2000]
    audit.record("ballot.recalled", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"reason": ballot.recall_reason})
    db.session.commit()
    signals.ballot_changed.send(actor, ballot_id=ballot.id)
    return ballot


# --- answering ---------------------------------------------------------------------------------------


@dataclass
class AnswerData:
    question_id: int
    choice: str
    comment: str = ""


def current_response(ballot_id: int, user_id: int) -> BallotResponse | None:
    return db.session.scalar(select(BallotResponse).where(
        BallotResponse.ballot_id == ballot_id, BallotResponse.respondent_id == user_id,
        BallotResponse.superseded_at.is_(None)).options(selectinload(BallotResponse.answers)))


def responded_counts(ballot_ids: list[int]) -> dict[int, int]:
    """How many recipients have a current answer, for many ballots in one query."""
    if not ballot_ids:
        return {}
    rows = db.session.execute(
        select(BallotResponse.ballot_id, func.count()).where(
            BallotResponse.ballot_id.in_(ballot_ids), BallotResponse.superseded_at.is_(None))
        .group_by(BallotResponse.ballot_id))
    return {ballot_id: count for ballot_id, count in rows}


def answered_ballot_ids(user: User, ballot_ids: list[int]) -> set[int]:
    """The ballots among ``ballot_ids`` the user has a current answer to."""
    if not ballot_ids:
        return set()
    return set(db.session.scalars(select(BallotResponse.ballot_id).where(
        BallotResponse.ballot_id.in_(ballot_ids), BallotResponse.respondent_id == user.id,
        BallotResponse.superseded_at.is_(None))))


def answered_at(user: User, ballot_ids: list[int]) -> dict[int, datetime]:
    """When the user's current answer to each of ``ballot_ids`` was signed, in one query."""
    if not ballot_ids:
        return {}
    rows = db.session.execute(select(BallotResponse.ballot_id, BallotResponse.submitted_at).where(
        BallotResponse.ballot_id.in_(ballot_ids), BallotResponse.respondent_id == user.id,
        BallotResponse.superseded_at.is_(None)))
    return dict(rows.all())


def responded_count(ballot: Ballot) -> int:
    """How many recipients have a current answer."""
    return db.session.scalar(select(func.count()).select_from(BallotResponse).where(
        BallotResponse.ballot_id == ballot.id, BallotResponse.superseded_at.is_(None))) or 0


def history(actor: User, ballot_id: int, user_id: int | None = None) -> list[BallotResponse]:
    """Every signed answer of a member, newest first (their own; anyone's for the result's readers)."""
    ballot = get_ballot(actor, ballot_id)
    user_id = actor.id if user_id is None else user_id
    if user_id != actor.id and not can_see_result(actor, ballot):
        raise PermissionDenied(_("Only the secretariat and the decider see other members' answers."))
    return list(db.session.scalars(select(BallotResponse).where(
        BallotResponse.ballot_id == ballot.id, BallotResponse.respondent_id == user_id)
        .order_by(BallotResponse.id.desc()).options(selectinload(BallotResponse.answers))))


def _clean_answers(ballot: Ballot, answers: list[AnswerData]) -> list[AnswerData]:
    by_question = {}
    errors: dict[str, str] = {}
    ids = {q.id for q in ballot.questions}
    for answer in answers:
        if answer.question_id not in ids:
            errors["answers"] = _("An answer is for a question that is not on this ballot.")
            continue
        comment = (answer.comment or "").strip()
        key = f"question_{answer.question_id}"
        if answer.choice not in Choice.__members__.values():
            errors[key] = _("Choose Agree, Disagree or Other opinion.")
        elif answer.choice == Choice.OTHER and not comment:
            errors[key] = _("Write your opinion: it is required with “Other opinion”.")
        elif len(comment) > MAX_COMMENT:
            errors[key] = _("At most %(max)d characters.", max=MAX_COMMENT)
        by_question[answer.question_id] = AnswerData(answer.question_id, answer.choice, comment)
    for question in ballot.questions:
        if question.id not in by_question and f"question_{question.id}" not in errors:
            errors[f"question_{question.id}"] = _("Answer this question.")
    if errors:
        raise _fields_error(errors)
    return [by_question[q.id] for q in ballot.questions]


def _refuse_unless_open(ballot: Ballot, now: datetime) -> None:
    if ballot.status == BallotStatus.RECALLED:
        raise Conflict(_("This ballot was recalled by the secretariat; answers are no longer accepted."),
                       code="ballot_recalled")
    if ballot.status == BallotStatus.DRAFT:
        raise Conflict(_("This ballot has not been issued."), code="not_issued")
    if not ballot.accepts_answers(now):
        raise Conflict(_("The deadline for this ballot has passed; answers are no longer accepted."),
                       code="deadline_passed")


def sign_identity(user: User, password: str, otp: str | None) -> str:
    """The member's personal signature of an answer (D12): their password, and their second
    factor when enrolled. Failures count towards the account lockout like a login."""
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise TooManyRequests(_("Too many failed attempts: the account is locked for a while."),
                              code="account_locked")
    if not verify_password(user.password_hash, password or ""):
        auth_service.register_failure(user, "ballot_signature")
        raise ValidationError(_("The signature failed: the password is wrong."), code="signature_failed",
                              details={"fields": {"password": _("The password is wrong.")}})
    if user.totp_enabled:
        try:
            auth_service.check_otp(user, otp)
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            raise ValidationError(message, code="signature_failed",
                                  details={"fields": {"otp": message}}) from exc
        return SignatureMethod.PASSWORD_OTP.value
    return SignatureMethod.PASSWORD.value


def content_hash(ballot: Ballot, respondent_id: int, answers: list[AnswerData], at: datetime) -> str:
    """SHA-256 of exactly what was signed, in a canonical JSON form (kept with the answer)."""
    signed = {"ballot": ballot.id, "number": ballot.number, "version": ballot.version,
              "respondent": respondent_id, "at": at.isoformat(),
              "answers": [[a.question_id, a.choice, a.comment] for a in answers]}
    return hashlib.sha256(json.dumps(signed, ensure_ascii=False, sort_keys=True,
                                     separators=(",", ":")).encode()).hexdigest()


def _store_response(ballot: Ballot, respondent_id: int, answers: list[AnswerData], *, method: str,
                    now: datetime, recorded_by: User | None = None) -> BallotResponse:
    previous = current_response(ballot.id, respondent_id)
    if previous is not None:
        previous.superseded_at = now
        db.session.flush()  # the partial unique index allows the new current answer only after this
    response = BallotResponse(
        ballot_id=ballot.id, respondent_id=respondent_id, ballot_version=ballot.version,
        submitted_at=now, content_hash=content_hash(ballot, respondent_id, answers, now), method=method,
        recorded_by_id=recorded_by.id if recorded_by else None,
        answers=[BallotAnswer(question_id=a.question_id, choice=a.choice, comment=a.comment)
                 for a in answers])
    try:
        with db.session.begin_nested():
            db.session.add(response)
    except IntegrityError:
        raise Conflict(_("Another answer of yours was saved at the same moment; reload and check it."),
                       code="concurrent_answer") from None
    return response


def submit_response(actor: User, ballot_id: int, answers: list[AnswerData], *, password: str,
                    otp: str | None = None, now: datetime | None = None) -> BallotResponse:
    """A recipient answers (or changes their answer) and signs it. Refused after the deadline,
    on a recalled ballot, or from anyone not on the ballot."""
    now = now or utcnow()
    ballot = get_ballot(actor, ballot_id)
    if not ballot.is_recipient(actor.id):
        raise PermissionDenied(_("This ballot was not sent to you for an answer."), code="not_recipient")
    _refuse_unless_open(ballot, now)
    clean = _clean_answers(ballot, answers)
    method = sign_identity(actor, password, otp)
    ballot = _locked(ballot.id)
    _refuse_unless_open(ballot, now)  # the deadline or a recall may have landed meanwhile
    previous = current_response(ballot.id, actor.id)
    response = _store_response(ballot, actor.id, clean, method=method, now=now)
    db.session.flush()
    audit.record("ballot.answered" if previous is None else "ballot.answer_changed", actor=actor,
                 object_type="ballot", object_id=ballot.id,
                 details={"response_id": response.id, "hash": response.content_hash, "method": method,
                          "version": ballot.version,
                          "replaces": previous.id if previous is not None else None})
    db.session.commit()
    signals.ballot_changed.send(actor, ballot_id=ballot.id)
    return response


def record_paper_response(actor: User, ballot_id: int, respondent_id: int, answers: list[AnswerData], *,
                          now: datetime | None = None) -> BallotResponse:
    """The secretariat records an answer a member gave on the printed form (marked as such)."""
    require_staff(actor)
    now = now or utcnow()
    ballot = get_ballot(actor, ballot_id)
    if not ballot.is_recipient(respondent_id):
        raise _fields_error({"respondent_id": _("This person is not a recipient of the ballot.")})
    _refuse_unless_open(ballot, now)
    clean = _clean_answers(ballot, answers)
    ballot = _locked(ballot.id)
    response = _store_response(ballot, respondent_id, clean, method=SignatureMethod.PAPER.value, now=now,
                               recorded_by=actor)
    db.session.flush()
    audit.record("ballot.paper_answer_recorded", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"respondent_id": respondent_id, "response_id": response.id,
                          "hash": response.content_hash})
    db.session.commit()
    signals.ballot_changed.send(actor, ballot_id=ballot.id)
    return response


def _locked(ballot_id: int) -> Ballot:
    """The ballot row locked for the rest of the transaction (PostgreSQL), so an answer and the
    closing cannot interleave."""
    return db.session.scalars(select(Ballot).where(Ballot.id == ballot_id).with_for_update(of=Ballot)
                              .execution_options(populate_existing=True)).one()


# --- the result (D13) --------------------------------------------------------------------------------


@dataclass
class QuestionResult:
    question: BallotQuestion
    counts: dict[str, int]
    answers: list[tuple[User, BallotAnswer, BallotResponse]]
    non_respondents: list[User]
    agreeing: int  # Đồng ý, plus the non-respondents when the ballot deems silence agreement
    threshold: int
    passed: bool


@dataclass
class Result:
    ballot: Ballot
    recipients: int
    responded: int
    questions: list[QuestionResult]
    non_respondents: list[User]
    basis: str
    policy_basis: str

    @property
    def response_rate(self) -> float:
        return self.responded / self.recipients if self.recipients else 0.0


def threshold(recipients: int) -> int:
    """More than half of all members (D13): the smallest count above half."""
    return int(recipients * rules().ballot_majority) + 1


def tally(ballot: Ballot) -> Result:
    """Count the current answers per question by D13. Two queries, whatever the number of members."""
    recipients = sorted((r.user for r in ballot.recipients), key=lambda u: vietnamese_name_key(u.full_name))
    responses = list(db.session.scalars(
        select(BallotResponse).where(BallotResponse.ballot_id == ballot.id,
                                     BallotResponse.superseded_at.is_(None))
        .options(selectinload(BallotResponse.answers))))
    by_user = {r.respondent_id: r for r in responses}
    non_respondents = [u for u in recipients if u.id not in by_user]
    needed = threshold(len(recipients))
    deemed = ballot.no_answer_policy == NoAnswerPolicy.AGREE
    results = []
    for question in ballot.questions:
        counts = {c.value: 0 for c in Choice}
        answers = []
        for user in recipients:
            response = by_user.get(user.id)
            if response is None:
                continue
            answer = next((a for a in response.answers if a.question_id == question.id), None)
            if answer is None:
                continue
            counts[answer.choice] += 1
            answers.append((user, answer, response))
        agreeing = counts[Choice.AGREE] + (len(non_respondents) if deemed else 0)
        results.append(QuestionResult(question, counts, answers, non_respondents, agreeing, needed,
                                      agreeing >= needed))
    return Result(ballot, len(recipients), len(by_user), results, non_respondents, rules().ballot_basis,
                  NoAnswerPolicy(ballot.no_answer_policy).label)


def result(actor: User, ballot_id: int) -> Result:
    ballot = get_ballot(actor, ballot_id)
    if not can_see_result(actor, ballot):
        raise PermissionDenied(_("The result is for the secretariat and the decider."))
    return tally(ballot)


def _result_record(outcome: Result) -> dict:
    return {"recipients": outcome.recipients, "responded": outcome.responded,
            "no_answer_policy": outcome.ballot.no_answer_policy, "basis": outcome.basis,
            "non_respondents": [u.id for u in outcome.non_respondents],
            "questions": [{"question_id": q.question.id, "counts": q.counts, "agreeing": q.agreeing,
                           "threshold": q.threshold, "passed": q.passed} for q in outcome.questions]}


def _close(ballot: Ballot, actor: User | None, now: datetime) -> Ballot:
    outcome = tally(ballot)
    ballot.status = BallotStatus.CLOSED.value
    ballot.closed_at = now
    ballot.closed_by_id = actor.id if actor is not None else None
    ballot.result = _result_record(outcome)
    audit.record("ballot.closed", actor=actor, actor_name="" if actor else "system", object_type="ballot",
                 object_id=ballot.id, details={"at_deadline": actor is None, "result": ballot.result})
    return ballot


def close_ballot(actor: User, ballot_id: int, *, now: datetime | None = None) -> Ballot:
    """Close a ballot early (secretariat), e.g. once every member has answered."""
    require_staff(actor)
    ballot = get_ballot(actor, ballot_id)
    ballot = _locked(ballot.id)
    if ballot.status != BallotStatus.OPEN:
        raise Conflict(_("Only an open ballot can be closed."), code="not_open")
    _close(ballot, actor, now or utcnow())
    db.session.commit()
    signals.ballot_changed.send(actor, ballot_id=ballot.id)
    return ballot


def close_overdue(now: datetime | None = None) -> list[int]:
    """Close every open ballot whose deadline has passed (the scheduler's job, and the catch-up at
    start-up after downtime). Each is closed exactly once: the row is locked and re-checked, so two
    workers running this at once close it once. Returns the ids closed."""
    now = now or utcnow()
    due = list(db.session.scalars(select(Ballot.id).where(Ballot.status == BallotStatus.OPEN.value,
                                                          Ballot.deadline <= now)))
    db.session.commit()
    closed = []
    for ballot_id in due:
        ballot = _locked(ballot_id)
        if ballot.status == BallotStatus.OPEN and ballot.deadline <= now:
            _close(ballot, None, max(now, ballot.deadline))
            closed.append(ballot_id)
        db.session.commit()
    for ballot_id in closed:
        signals.ballot_changed.send(None, ballot_id=ballot_id)
    return closed


def record_decision(actor: User, ballot_id: int, decision: str) -> Ballot:
    """The Prime Minister (or whoever the ballot names) records the decision on a closed ballot."""
    ballot = get_ballot(actor, ballot_id)
    if actor.id != ballot.decider_id:
        raise PermissionDenied(_("Only %(name)s records the decision on this ballot.",
                                 name=ballot.decider.full_name if ballot.decider else "?"))
    decision = (decision or "").strip()
    if not decision:
        raise _fields_error({"decision": _("Write the decision.")})
    if ballot.status == BallotStatus.OPEN and ballot.deadline <= utcnow():
        close_overdue()
        ballot = get_ballot(actor, ballot_id)
    if ballot.status != BallotStatus.CLOSED:
        raise Conflict(_("The decision is recorded once the ballot is closed."), code="not_closed")
    ballot.status = BallotStatus.DECIDED.value
    ballot.decision = decision[:20000]
    ballot.decided_at = utcnow()
    ballot.decided_by_id = actor.id
    audit.record("ballot.decided", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"decision": ballot.decision})
    db.session.commit()
    signals.ballot_changed.send(actor, ballot_id=ballot.id)
    return ballot


# --- reminders (D13) -----------------------------------------------------------------------------------


@dataclass
class Reminder:
    ballot_id: int
    user_id: int
    hours_before: int


def due_reminders(now: datetime | None = None) -> list[Reminder]:
    """Record the reminders due now — to members who have not answered, once per threshold — and
    return them for delivery. When the server was down across several thresholds, only the latest
    is sent (the others are marked, not sent: one message, not three at once)."""
    now = now or utcnow()
    hours = sorted(rules().ballot_reminder_hours, reverse=True)  # 48, 24
    if not hours:
        return []
    horizon = now + timedelta(hours=hours[0])
    ballots = list(db.session.scalars(
        select(Ballot).where(Ballot.status == BallotStatus.OPEN.value, Ballot.deadline > now,
                             Ballot.deadline <= horizon).options(selectinload(Ballot.recipients))))
    due: list[Reminder] = []
    for ballot in ballots:
        # A threshold that fell before the ballot was issued is skipped: the notice of issue, a
        # minute earlier, already said how long is left.
        passed = [h for h in hours if now >= ballot.deadline - timedelta(hours=h)
                  and (ballot.issued_at is None or ballot.deadline - timedelta(hours=h) > ballot.issued_at)]
        if not passed:
            continue
        latest = min(passed)
        answered = set(db.session.scalars(select(BallotResponse.respondent_id).where(
            BallotResponse.ballot_id == ballot.id, BallotResponse.superseded_at.is_(None))))
        sent = {(r.user_id, r.hours_before) for r in db.session.scalars(
            select(BallotReminder).where(BallotReminder.ballot_id == ballot.id))}
        for recipient in ballot.recipients:
            if recipient.user_id in answered or (recipient.user_id, latest) in sent:
                continue
            for h in passed:
                if (recipient.user_id, h) not in sent:
                    db.session.add(BallotReminder(ballot_id=ballot.id, user_id=recipient.user_id,
                                                  hours_before=h, sent_at=now))
            due.append(Reminder(ballot.id, recipient.user_id, latest))
    if due:
        try:
            db.session.flush()
        except IntegrityError:  # another worker recorded them first: it sends them
            db.session.rollback()
            return []
        audit.record("ballot.reminders", actor=None, actor_name="system", object_type="ballot",
                     object_id=None, details={"count": len(due),
                                              "ballots": sorted({r.ballot_id for r in due})})
    db.session.commit()
    return due
