"""Ballot pages: the secretariat's dashboard and drafting desk, the member's answer page with its
signature, the result with its live response bar, the decision.

Thin: every rule (who may, what is refused, what is audited) is in :mod:`cabinet.ballots.service`
(and :mod:`cabinet.ballots.reading` for the dossier files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select

from cabinet.account.forms import EmptyForm
from cabinet.ballots import reading, service
from cabinet.ballots.forms import (
    BallotForm,
    DecisionForm,
    DossierForm,
    PaperAnswerForm,
    RecallForm,
    SignForm,
)
from cabinet.ballots.models import (
    BALLOT_STATUS_LABELS,
    CHOICE_LABELS,
    NO_ANSWER_LABELS,
    Ballot,
    BallotStatus,
    Choice,
    NoAnswerPolicy,
    SignatureMethod,
)
from cabinet.core.errors import DomainError, ValidationError
from cabinet.core.forms import show_service_errors
from cabinet.core.timeutil import utcnow
from cabinet.documents.models import DOC_TYPE_LABELS, SECRECY_LABELS
from cabinet.documents.routes import PDF_VIEWER_TEMPLATE, send_content
from cabinet.documents.service import SECRECY_STAMPS
from cabinet.extensions import db
from cabinet.i18n import local, short_datetime
from cabinet.meetings.access import cleared_for, is_staff, require_staff
from cabinet.rules import rules
from cabinet.users.models import Clearance, Role, User

bp = Blueprint("ballots", __name__)

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_FIELD_ALIASES = {"deadline": "deadline_day", "recipient_ids": "recipients", "decider_id": "decider",
                  "respondent_id": "respondent"}


def _me() -> User:
    return current_user._get_current_object()


def _check_form() -> None:
    if not EmptyForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Reload the page and try again."))


def _to_view(ballot_id: int, anchor: str | None = None):
    return redirect(url_for("ballots.view", ballot_id=ballot_id, _anchor=anchor))


# --- time left (D13) ------------------------------------------------------------------------------


@bp.app_template_filter("time_left")
def time_left(deadline: datetime | None, now: datetime | None = None) -> str:
    """``còn 2 ngày 3 giờ`` / ``2 days 3 hours left``; ``Đã hết hạn`` once the deadline passed."""
    if deadline is None:
        return ""
    seconds = int((deadline - (now or utcnow())).total_seconds())
    if seconds <= 0:
        return _("Deadline passed")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = max(1, rest // 60) if not days and not hours else rest // 60
    parts = []
    if days:
        parts.append(ngettext("%(num)d day", "%(num)d days", days))
    if hours:
        parts.append(ngettext("%(num)d hour", "%(num)d hours", hours))
    if not days and minutes:
        parts.append(ngettext("%(num)d minute", "%(num)d minutes", minutes))
    return _("%(time)s left", time=" ".join(parts))


# --- the dashboard -------------------------------------------------------------------------------


PER_PAGE = 50  # the dashboard's page: constant work however many ballots there are


@bp.route("/ballots")
@login_required
def index():
    me = _me()
    status = request.args.get("status", "")
    status = status if status in BallotStatus.__members__.values() else ""
    q = request.args.get("q", "").strip()[:200]
    total = service.count_visible(me, status=status or None, q=q)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    ballots = service.visible_ballots(me, status=status or None, q=q, limit=PER_PAGE,
                                      offset=(page - 1) * PER_PAGE)
    ids = [b.id for b in ballots]
    return render_template(
        "ballots/index.html", ballots=ballots, responded=service.responded_counts(ids),
        answered=service.answered_ballot_ids(me, ids), status=status, q=q, now=utcnow(),
        is_staff=is_staff(me), statuses=BALLOT_STATUS_LABELS, page=page, pages=pages, total=total)


# --- drafting --------------------------------------------------------------------------------------


def _members() -> list[User]:
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.role == Role.MEMBER.value)
                                   .order_by(User.full_name)))


def _fill_choices(form: BallotForm) -> None:
    members = _members()
    form.recipients.choices = [(u.id, f"{u.full_name} — {u.title}"
                                      + (f", {u.organisation}" if u.organisation else "")) for u in members]
    form.decider.choices = [(u.id, f"{u.full_name} — {u.title}") for u in members]


def _fill_defaults(form: BallotForm) -> None:
    deadline = local(rules().ballot_deadline(utcnow()))
    form.recipients.data = [u.id for u in service.default_recipients()]
    form.deadline_day.data, form.deadline_time.data = deadline.date(), deadline.time()
    form.no_answer_policy.data = NoAnswerPolicy.DISAGREE.value
    decider = service.default_decider()
    form.decider.data = decider.id if decider else None


def _fill_from(form: BallotForm, ballot: Ballot) -> None:
    form.number.data, form.title.data, form.summary.data = ballot.number, ballot.title, ballot.summary
    while len(form.questions.entries):
        form.questions.pop_entry()
    for question in ballot.questions:
        form.questions.append_entry(question.text)
    if not form.questions.entries:
        form.questions.append_entry()
    form.recipients.data = [r.user_id for r in ballot.recipients]
    deadline = local(ballot.deadline)
    form.deadline_day.data, form.deadline_time.data = deadline.date(), deadline.time()
    form.no_answer_policy.data = ballot.no_answer_policy
    form.decider.data = ballot.decider_id


def _data_from(form: BallotForm) -> service.BallotData:
    return service.BallotData(
        title=form.title.data or "", number=form.number.data or "", summary=form.summary.data or "",
        questions=[q or "" for q in form.questions.data], deadline=form.deadline(),
        no_answer_policy=form.no_answer_policy.data or NoAnswerPolicy.DISAGREE.value,
        decider_id=form.decider.data or None, recipient_ids=list(form.recipients.data or []))


def _render_form(form: BallotForm, ballot: Ballot | None, status: int = 200, questions_error: str = ""):
    default = rules().ballot_deadline(utcnow())
    return render_template(
        "ballots/edit.html", form=form, ballot=ballot, questions_error=questions_error,
        default_deadline=default, deadline_basis=rules().ballot_deadline_basis,
        working_days=rules().ballot_working_days, no_answer_basis=rules().no_answer_basis,
        policies=NO_ANSWER_LABELS), status


def _save(form: BallotForm, ballot: Ballot | None):
    """Handle a POST of the drafting form: "add a question" (no script), or save."""
    if request.form.get("add_question"):
        form.questions.append_entry()
        return _render_form(form, ballot)
    if not form.validate_on_submit():
        return _render_form(form, ballot, 400)
    try:
        if ballot is None:
            saved = service.create_ballot(_me(), _data_from(form))
        else:
            saved = service.update_ballot(_me(), ballot.id, _data_from(form))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        show_service_errors(form, exc, _FIELD_ALIASES)
        fields = (exc.details or {}).get("fields", {}) if isinstance(exc.details, dict) else {}
        return _render_form(form, ballot, exc.status, fields.get("questions", ""))
    flash(_("Draft saved. Add the dossier, check it, then issue it.") if ballot is None
          else _("Changes saved."), "success")
    return _to_view(saved.id)


@bp.route("/ballots/new", methods=["GET", "POST"])
@login_required
def create():
    require_staff(_me())
    form = BallotForm()
    _fill_choices(form)
    if request.method == "GET":
        _fill_defaults(form)
        return _render_form(form, None)
    return _save(form, None)


@bp.route("/ballots/<int:ballot_id>/edit", methods=["GET", "POST"])
@login_required
def edit(ballot_id: int):
    me = _me()
    require_staff(me)
    ballot = service.get_ballot(me, ballot_id)
    if ballot.status != BallotStatus.DRAFT:
        flash(_("This ballot was issued; it can no longer be edited. Recall it and draft a new one if it "
                "must change."), "error")
        return _to_view(ballot.id)
    form = BallotForm()
    _fill_choices(form)
    if request.method == "GET":
        _fill_from(form, ballot)
        return _render_form(form, ballot)
    return _save(form, ballot)


# --- the dossier --------------------------------------------------------------------------------


def _dossier_form(me: User) -> DossierForm:
    form = DossierForm(prefix="doc")
    form.secrecy.choices = [(level.value, label) for level, label in SECRECY_LABELS.items()
                            if cleared_for(me, level.value)]
    return form


@bp.route("/ballots/<int:ballot_id>/documents", methods=["POST"])
@login_required
def add_document(ballot_id: int):
    me = _me()
    require_staff(me)
    ballot = service.get_ballot(me, ballot_id)
    form = _dossier_form(me)
    if not form.validate_on_submit():
        return _render_view(ballot, dossier_form=form, status=400)
    try:
        service.add_document(me, ballot.id, stream=form.file.data.stream, filename=form.file.data.filename,
                             title=form.title.data, doc_type=form.doc_type.data, secrecy=form.secrecy.data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        show_service_errors(form, exc)
        return _render_view(service.get_ballot(me, ballot_id), dossier_form=form, status=exc.status)
    flash(_("Document added to the dossier."), "success")
    return _to_view(ballot_id, "dossier")


@bp.route("/ballots/<int:ballot_id>/documents/<int:document_id>/delete", methods=["POST"])
@login_required
def remove_document(ballot_id: int, document_id: int):
    _check_form()
    try:
        service.remove_document(_me(), ballot_id, document_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(_("Document removed from the dossier."), "success")
    return _to_view(ballot_id, "dossier")


@bp.route("/ballots/<int:ballot_id>/documents/<int:document_id>")
@login_required
def document(ballot_id: int, document_id: int):
    me = _me()
    doc = reading.get_document(me, ballot_id, document_id)
    return render_template("ballots/document.html", ballot=doc.ballot, document=doc,
                           stamp=SECRECY_STAMPS.get(doc.secrecy_enum, ""),
                           type_label=DOC_TYPE_LABELS.get(doc.doc_type, doc.doc_type),
                           secrecy_label=SECRECY_LABELS.get(doc.secrecy_enum, doc.secrecy),
                           viewer_template=PDF_VIEWER_TEMPLATE)


@bp.route("/ballots/<int:ballot_id>/documents/<int:document_id>/content")
@login_required
def document_content(ballot_id: int, document_id: int):
    return send_content(reading.open_document(_me(), ballot_id, document_id))


# --- issue, recall, close ------------------------------------------------------------------------


def _flash_error(exc: DomainError) -> None:
    flash(exc.message, "error")
    fields = (exc.details or {}).get("fields", {}) if isinstance(exc.details, dict) else {}
    for message in fields.values():
        flash(message, "error")


@bp.route("/ballots/<int:ballot_id>/issue", methods=["POST"])
@login_required
def issue(ballot_id: int):
    _check_form()
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm that the ballot is ready to be issued."), "error")
        return _to_view(ballot_id, "issue")
    try:
        ballot = service.issue_ballot(_me(), ballot_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        _flash_error(exc)
        return _to_view(ballot_id, "issue")
    flash(ngettext("Issued: %(num)d member was notified and may answer until %(when)s.",
                   "Issued: %(num)d members were notified and may answer until %(when)s.",
                   len(ballot.recipients), when=short_datetime(ballot.deadline)), "success")
    return _to_view(ballot_id)


@bp.route("/ballots/<int:ballot_id>/recall", methods=["POST"])
@login_required
def recall(ballot_id: int):
    form = RecallForm(prefix="recall")
    if not form.validate_on_submit():
        flash(_("Give the reason for the recall."), "error")
        return _to_view(ballot_id, "manage")
    try:
        service.recall_ballot(_me(), ballot_id, form.reason.data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        _flash_error(exc)
    else:
        flash(_("The ballot was recalled (thu hồi): answers are no longer accepted."), "success")
    return _to_view(ballot_id)


@bp.route("/ballots/<int:ballot_id>/close", methods=["POST"])
@login_required
def close(ballot_id: int):
    _check_form()
    try:
        service.close_ballot(_me(), ballot_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        _flash_error(exc)
    else:
        flash(_("The ballot was closed and its result recorded."), "success")
    return _to_view(ballot_id, "result")


# --- the ballot page ---------------------------------------------------------------------------


@dataclass
class AnswerInput:
    """What a form posted for each question (kept to show it again next to its errors)."""

    choices: dict[int, str] = field(default_factory=dict)
    comments: dict[int, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def answers(self, ballot: Ballot) -> list[service.AnswerData]:
        return [service.AnswerData(q.id, self.choices[q.id], self.comments.get(q.id, ""))
                for q in ballot.questions if q.id in self.choices]


def _answers_from_form(ballot: Ballot, prefix: str = "") -> AnswerInput:
    posted = AnswerInput()
    for question in ballot.questions:
        choice = request.form.get(f"{prefix}choice-{question.id}", "")
        if choice:
            posted.choices[question.id] = choice
        posted.comments[question.id] = request.form.get(f"{prefix}comment-{question.id}", "")[:6000]
    return posted


def _answers_of(response) -> AnswerInput:
    posted = AnswerInput()
    if response is not None:
        for answer in response.answers:
            posted.choices[answer.question_id] = answer.choice
            posted.comments[answer.question_id] = answer.comment
    return posted


@dataclass
class MemberRow:
    """One line of "who answered what": a recipient, their current answer (or none)."""

    user: User
    response: object | None = None
    answers: dict[int, object] = field(default_factory=dict)


def _who_answered(outcome: service.Result) -> list[MemberRow]:
    rows: dict[int, MemberRow] = {}
    for question in outcome.questions:
        for user, answer, response in question.answers:
            row = rows.setdefault(user.id, MemberRow(user, response))
            row.answers[question.question.id] = answer
    answered = sorted(rows.values(), key=lambda r: r.user.full_name)
    return answered + [MemberRow(u) for u in outcome.non_respondents]


def _render_view(ballot: Ballot, *, status: int = 200, sign_form: SignForm | None = None,
                 posted: AnswerInput | None = None, change_open: bool = False,
                 dossier_form: DossierForm | None = None, paper_form: PaperAnswerForm | None = None,
                 paper_posted: AnswerInput | None = None, decision_form: DecisionForm | None = None):
    me = _me()
    now = utcnow()
    staff = is_staff(me)
    recipient = ballot.is_recipient(me.id)
    sees_result = service.can_see_result(me, ballot)
    mine = service.current_response(ballot.id, me.id) if recipient else None
    outcome = service.tally(ballot) if sees_result and ballot.status != BallotStatus.DRAFT else None
    accepting = ballot.accepts_answers(now)
    if paper_form is None:
        paper_form = PaperAnswerForm(prefix="paper")
    if outcome is not None:
        answered = {row.user.id for row in _who_answered(outcome) if row.response is not None}
        people = sorted((r.user for r in ballot.recipients),
                        key=lambda u: (u.id in answered, u.full_name))
        paper_form.respondent.choices = [
            (u.id, u.full_name + (" — " + _("has answered") if u.id in answered else "")) for u in people]
    return render_template(
        "ballots/view.html", ballot=ballot, now=now, is_staff=staff, is_recipient=recipient,
        is_decider=ballot.decider_id == me.id, sees_result=sees_result, mine=mine,
        history=service.history(me, ballot.id) if recipient else [],
        outcome=outcome, rows=_who_answered(outcome) if outcome is not None else [],
        accepting=accepting, expired=ballot.status == BallotStatus.OPEN and not accepting,
        sign_form=sign_form or SignForm(prefix="sign"),
        posted=posted or _answers_of(mine), change_open=change_open or posted is not None,
        dossier_form=dossier_form or _dossier_form(me), paper_form=paper_form,
        paper_posted=paper_posted or AnswerInput(),
        decision_form=decision_form or DecisionForm(prefix="decision"),
        recall_form=RecallForm(prefix="recall"), form=EmptyForm(),
        policy_label=NoAnswerPolicy(ballot.no_answer_policy).label, choices=CHOICE_LABELS, Choice=Choice,
        Status=BallotStatus, Method=SignatureMethod,
        doc_types=DOC_TYPE_LABELS, secrecy_labels=SECRECY_LABELS, stamps=SECRECY_STAMPS,
        cleared=lambda doc: cleared_for(me, doc.secrecy), Clearance=Clearance,
        default_deadline=rules().ballot_deadline(now), deadline_basis=rules().ballot_deadline_basis,
        majority_basis=rules().ballot_basis, reports=_report_links(ballot, sees_result, staff)), status


def _report_links(ballot: Ballot, sees_result: bool, staff: bool) -> dict[str, str]:
    """The printed form (a preview while drafting) and, once issued, the report."""
    links = {}
    if staff:
        links["form"] = url_for("ballots.form_pdf", ballot_id=ballot.id)
    if sees_result and ballot.status != BallotStatus.DRAFT:
        links["report_pdf"] = url_for("ballots.report_pdf", ballot_id=ballot.id)
        links["report_docx"] = url_for("ballots.report_docx", ballot_id=ballot.id)
    return links


@bp.route("/ballots/<int:ballot_id>")
@login_required
def view(ballot_id: int):
    return _render_view(service.get_ballot(_me(), ballot_id),
                        change_open=request.args.get("change") == "1")


@bp.route("/ballots/<int:ballot_id>/answer", methods=["POST"])
@login_required
def answer(ballot_id: int):
    me = _me()
    ballot = service.get_ballot(me, ballot_id)
    sign_form = SignForm(prefix="sign")
    posted = _answers_from_form(ballot)
    if not sign_form.validate_on_submit():
        flash(_("The form has expired. Reload the page and try again."), "error")
        return _render_view(ballot, sign_form=sign_form, posted=posted, status=400)
    try:
        service.submit_response(me, ballot.id, posted.answers(ballot), password=sign_form.password.data or "",
                                otp=sign_form.otp.data or None)
    except DomainError as exc:
        if exc.status == 404:
            raise
        db.session.rollback()
        posted.errors = _question_errors(exc)
        show_service_errors(sign_form, exc)
        return _render_view(service.get_ballot(me, ballot_id), sign_form=sign_form, posted=posted,
                            status=exc.status)
    flash(_("Your answer was signed and sent."), "success")
    return _to_view(ballot_id, "my-answer")


def _question_errors(exc: DomainError) -> dict[str, str]:
    """The service's field errors that belong next to a question (the rest go to the form)."""
    fields = (exc.details or {}).get("fields", {}) if isinstance(exc.details, dict) else {}
    return {k: v for k, v in fields.items() if k.startswith("question_") or k == "answers"}


@bp.route("/ballots/<int:ballot_id>/paper-answer", methods=["POST"])
@login_required
def paper_answer(ballot_id: int):
    me = _me()
    require_staff(me)
    ballot = service.get_ballot(me, ballot_id)
    form = PaperAnswerForm(prefix="paper")
    posted = _answers_from_form(ballot, "paper-")
    if not form.validate_on_submit():
        flash(_("Choose the member who answered on paper."), "error")
        return _render_view(ballot, paper_form=form, paper_posted=posted, status=400)
    try:
        service.record_paper_response(me, ballot.id, form.respondent.data, posted.answers(ballot))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        posted.errors = _question_errors(exc)
        show_service_errors(form, exc, _FIELD_ALIASES)
        return _render_view(service.get_ballot(me, ballot_id), paper_form=form, paper_posted=posted,
                            status=exc.status)
    flash(_("The paper answer was recorded, marked as given on paper (phiếu giấy)."), "success")
    return _to_view(ballot_id, "result")


@bp.route("/ballots/<int:ballot_id>/decision", methods=["POST"])
@login_required
def decide(ballot_id: int):
    me = _me()
    ballot = service.get_ballot(me, ballot_id)
    form = DecisionForm(prefix="decision")
    if not form.validate_on_submit():
        return _render_view(ballot, decision_form=form, status=400)
    try:
        service.record_decision(me, ballot.id, form.decision.data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        show_service_errors(form, exc)
        return _render_view(service.get_ballot(me, ballot_id), decision_form=form, status=exc.status)
    flash(_("The decision was recorded on the ballot."), "success")
    return _to_view(ballot_id, "decision")


# --- the printed documents (cabinet/ballots/documents.py renders them) --------------------------


def _download(body: bytes, mimetype: str, name: str):
    from flask import Response

    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _report_data(ballot_id: int):
    from cabinet.ballots import documents as printed
    from cabinet.documents.service import end_read_transaction

    outcome = service.result(_me(), ballot_id)  # the secretariat and the decider only
    data = printed.report_data(outcome, tz=current_app.config["CABINET_TIMEZONE"])
    end_read_transaction()  # no transaction held while rendering
    return printed, data


@bp.route("/ballots/<int:ballot_id>/report.pdf")
@login_required
def report_pdf(ballot_id: int):
    printed, data = _report_data(ballot_id)
    return _download(printed.report_pdf(data), "application/pdf", printed.filename(data, "pdf"))


@bp.route("/ballots/<int:ballot_id>/report.docx")
@login_required
def report_docx(ballot_id: int):
    printed, data = _report_data(ballot_id)
    return _download(printed.report_docx(data), DOCX_MEDIA_TYPE, printed.filename(data, "docx"))


@bp.route("/ballots/<int:ballot_id>/form.pdf")
@login_required
def form_pdf(ballot_id: int):
    """The printed form: the draft's preview, and the paper a member answers on (secretariat)."""
    from cabinet.ballots import documents as printed
    from cabinet.documents.service import end_read_transaction

    me = _me()
    require_staff(me)
    ballot = service.get_ballot(me, ballot_id)
    data = printed.form_data(ballot, tz=current_app.config["CABINET_TIMEZONE"])
    end_read_transaction()
    return _download(printed.blank_form_pdf(data), "application/pdf", printed.filename(data, "pdf"))
