"""The printed documents of an opinion ballot, laid out by Nghị định 30/2020/NĐ-CP (D17, D18):

* the summary report (*Báo cáo tổng hợp ý kiến thành viên Chính phủ*), as PDF (WeasyPrint) and
  DOCX (python-docx) with the same content: counts per question, the rule and the outcome, each
  member's answer and comment, the members who did not answer on a line of their own (D13), the
  decision;
* the blank form (*Phiếu lấy ý kiến thành viên Chính phủ*): the draft's preview as it will be
  printed, and the paper a member answers on when they cannot answer on screen.

Two steps, so that no database transaction is held while rendering (see
``cabinet.documents.service.end_read_transaction``): :func:`report_data` / :func:`form_data` read
everything needed from the loaded ballot into plain frozen dataclasses (call them first, inside the
request's transaction); the ``*_pdf`` / ``*_docx`` functions then only render those snapshots and
return bytes. They also accept a ``service.Result`` / ``Ballot`` directly and snapshot it first, for
callers that do not care about the transaction.

The documents are legal Vietnamese texts: their wording is fixed here and in the templates, not
translated. The font is the vendored Liberation Serif (a Times New Roman metric twin with every
Vietnamese glyph), embedded in the PDF; the DOCX names Times New Roman, as NĐ30 asks. What every
NĐ30 document shares (the fonts, the header, the PDF/A rendering, the DOCX layer) lives in
:mod:`cabinet.core.nd30` and the templates ``_nd30_print.html`` / ``_nd30_macros.html``; the names
that used to be defined here are re-exported for the callers that import them from this module.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from cabinet.ballots.models import Ballot, BallotStatus, Choice, NoAnswerPolicy, SignatureMethod
from cabinet.core import nd30
from cabinet.core.nd30 import (  # noqa: F401  (re-exported: callers import them from here)
    BODY_PT,
    DEFAULT_TIMEZONE,
    DOCX_FONT,
    FONT_DIR,
    FONTS,
    HEADER_COLUMNS_MM,
    MARGINS_MM,
    NATIONAL_MOTTO,
    NATIONAL_TITLE,
    NUMBER_SPACE,
    PAGE_MM,
    PLACE,
    PROJECT_ROOT,
    TABLE_PT,
    TEXT_WIDTH_MM,
    Header,
    _nfc,
    _pdf,
    _zone,
    date_line,
    moment,
    paragraphs,
    position,
)
from cabinet.core.timeutil import as_utc, utcnow
from cabinet.extensions import db
from cabinet.i18n import vietnamese_date
from cabinet.users.models import User

if TYPE_CHECKING:
    from cabinet.ballots.service import Result

ORGAN = "VĂN PHÒNG CHÍNH PHỦ"
ORGAN_SENTENCE = "Văn phòng Chính phủ"
REPORT_SYMBOL = "BC-VPCP"
FORM_SYMBOL = "PLYK-VPCP"
REPORT_TITLE = "BÁO CÁO"
FORM_TITLE = "PHIẾU LẤY Ý KIẾN THÀNH VIÊN CHÍNH PHỦ"
# The signature block of the report: the Office's Deputy Head signing for the Minister-Chairman.
# No name: the person who signs writes it (or the secretariat edits the DOCX).
SIGNATURE_AUTHORITY = ("KT. BỘ TRƯỞNG, CHỦ NHIỆM", "PHÓ CHỦ NHIỆM")
REPORT_RECIPIENTS = ("Thủ tướng Chính phủ (để báo cáo);", "Các Phó Thủ tướng Chính phủ;",
                     "Lưu: VT, TKBT.")

CHOICE_TEXT = {Choice.AGREE.value: "Đồng ý", Choice.DISAGREE.value: "Không đồng ý",
               Choice.OTHER.value: "Ý kiến khác"}
NO_ANSWER_TEXT = {
    NoAnswerPolicy.DISAGREE.value: "thành viên không trả lời được tính là không đồng ý",
    NoAnswerPolicy.AGREE.value: "thành viên không trả lời được coi là đồng ý",
}
SECRECY_TEXT = {"mat": "Mật", "toi_mat": "Tối mật", "tuyet_mat": "Tuyệt mật"}
PAPER_MARK = "(phiếu giấy)"
LONG_COMMENT = 300  # characters: such a row of the members table may split across pages
COUNT_HEADINGS = ("Tổng số thành viên được lấy ý kiến", "Đồng ý", "Không đồng ý", "Ý kiến khác",
                  "Chưa trả lời")
MEMBER_HEADINGS = ("STT", "Họ và tên", "Chức vụ", "Ý kiến", "Ghi chú / ý kiến khác")
CHECKBOX = "\u25a1"  # □: in Liberation Serif and Times New Roman (☐ U+2610 is in neither)


# --- snapshots: plain data, no database ------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    position: str  # chức vụ: "Bộ trưởng Bộ Tư pháp"


@dataclass(frozen=True)
class MemberAnswer:
    number: int  # STT
    person: Person
    choice: str  # Choice value
    choice_text: str  # "Đồng ý"
    comment: str
    paper: bool  # answered on the printed form, recorded by the secretariat


@dataclass(frozen=True)
class QuestionReport:
    number: int
    text: str
    agree: int
    disagree: int
    other: int
    missing: int
    agreeing: int  # what the rule counts (Đồng ý, plus silence when deemed agreement)
    threshold: int
    passed: bool
    answers: tuple[MemberAnswer, ...]


@dataclass(frozen=True)
class ReportData:
    header: Header
    ballot_title: str
    ballot_number: str
    reference: str  # the ballot referred to, its date and deadline
    introduction: str
    recipients: int
    responded: int
    paper_responses: int
    basis: str
    policy: str  # NO_ANSWER_TEXT
    deemed_agreement: bool
    questions: tuple[QuestionReport, ...]
    non_respondents: tuple[Person, ...]
    notice: str  # open or recalled ballot: said plainly
    decision: tuple[str, ...]  # paragraphs; empty when not recorded
    decision_line: str  # by whom and when
    closing: str
    signature: tuple[str, ...] = SIGNATURE_AUTHORITY
    recipients_list: tuple[str, ...] = REPORT_RECIPIENTS

    @property
    def title(self) -> str:
        return f"{REPORT_TITLE} {self.subtitle}"

    @property
    def subtitle(self) -> str:
        return f"Tổng hợp ý kiến thành viên Chính phủ về {self.ballot_title}"

    def outcome(self, question: QuestionReport) -> str:
        """``Đạt quá nửa tổng số thành viên Chính phủ (15/27 …)`` or its negation."""
        verdict = "Đạt" if question.passed else "Không đạt"
        deemed = ""
        if self.deemed_agreement and question.missing:
            deemed = f", trong đó {question.missing} thành viên không trả lời được coi là đồng ý"
        return (f"{verdict} quá nửa tổng số thành viên Chính phủ ({question.agreeing}/{self.recipients} "
                f"thành viên đồng ý{deemed}; cần ít nhất {question.threshold}).")

    def rule(self) -> str:
        return f"Căn cứ: {self.basis}; {self.policy}."

    @property
    def non_respondents_label(self) -> str:
        count = f" ({len(self.non_respondents)})" if self.non_respondents else ""
        return f"Thành viên chưa trả lời{count}:"

    @property
    def non_respondents_names(self) -> str:
        """Every member who did not answer, on a line of their own, never merged into a count (D13)."""
        if not self.non_respondents:
            return "không có."
        return "; ".join(f"{p.name} ({p.position})" if p.position else p.name
                         for p in self.non_respondents) + "."

    @property
    def non_respondents_line(self) -> str:
        return f"{self.non_respondents_label} {self.non_respondents_names}"


@dataclass(frozen=True)
class DocumentLine:
    title: str
    secrecy: str  # "" or "Mật"…


@dataclass(frozen=True)
class FormData:
    header: Header
    draft: bool
    ballot_title: str
    ballot_number: str
    addressee: str  # "Kính gửi: …"
    summary: tuple[str, ...]
    documents: tuple[DocumentLine, ...]
    questions: tuple[str, ...]
    deadline_line: str
    policy_line: str
    respondent: Person | None = None
    choices: tuple[str, ...] = (CHOICE_TEXT[Choice.AGREE.value], CHOICE_TEXT[Choice.DISAGREE.value],
                                CHOICE_TEXT[Choice.OTHER.value])

    @property
    def title(self) -> str:
        return f"{FORM_TITLE} về {self.ballot_title}"


def _person(user: User) -> Person:
    return Person(_nfc(user.full_name), position(user))


def _number_line(number: str | None, symbol: str) -> str:
    number = _nfc(number).strip()
    return f"Số: {number}" if number else f"Số:{NUMBER_SPACE}/{symbol}"


def report_data(result: Result, *, now: datetime | None = None, tz: str | None = None,
                number: str | None = None) -> ReportData:
    """Everything the report shows, read from a loaded ``service.Result`` (may lazy-load the
    decider and ballot attributes: call it before ending the transaction)."""
    zone = _zone(tz)
    now = now or utcnow()
    ballot = result.ballot
    as_of_time = as_utc(ballot.closed_at) or now
    if ballot.status == BallotStatus.RECALLED and ballot.recalled_at is not None:
        as_of_time = as_utc(ballot.recalled_at)
    questions = []
    paper = set()
    for index, outcome in enumerate(result.questions, start=1):
        answers = []
        for row, (user, answer, response) in enumerate(outcome.answers, start=1):
            is_paper = response.method == SignatureMethod.PAPER
            if is_paper:
                paper.add(user.id)
            answers.append(MemberAnswer(row, _person(user), answer.choice,
                                        CHOICE_TEXT.get(answer.choice, answer.choice),
                                        _nfc(answer.comment).strip(), is_paper))
        counts = outcome.counts
        agree, disagree, other = (counts.get(c.value, 0)
                                  for c in (Choice.AGREE, Choice.DISAGREE, Choice.OTHER))
        questions.append(QuestionReport(
            index, _nfc(outcome.question.text), agree, disagree, other,
            max(result.recipients - agree - disagree - other, 0), outcome.agreeing, outcome.threshold,
            outcome.passed, tuple(answers)))

    ballot_number = _nfc(ballot.number).strip()
    issued_on = vietnamese_date(as_utc(ballot.issued_at).astimezone(zone)) if ballot.issued_at else ""
    issued = f" {issued_on}" if issued_on else ""
    named = f"Phiếu lấy ý kiến thành viên Chính phủ số {ballot_number}" if ballot_number else \
        "Phiếu lấy ý kiến thành viên Chính phủ"
    reference = f"{named}{issued}; hạn trả lời: {moment(ballot.deadline, zone)}."
    sent = f"{issued_on}, " if issued_on else ""
    paper_part = f" (trong đó {len(paper)} phiếu giấy)" if paper else ""
    missing = len(result.non_respondents)
    introduction = (
        f"Thực hiện chỉ đạo của Thủ tướng Chính phủ, {sent}{ORGAN_SENTENCE} đã gửi {named} về "
        f"{_nfc(ballot.title)} đến {result.recipients} thành viên Chính phủ. Đến "
        f"{moment(as_of_time, zone)}, đã nhận được ý kiến của {result.responded}/{result.recipients} "
        f"thành viên{paper_part}; {missing} thành viên chưa trả lời. {ORGAN_SENTENCE} xin tổng hợp "
        f"ý kiến như sau:")

    notice = ""
    if ballot.status == BallotStatus.OPEN:
        notice = (f"Phiếu lấy ý kiến chưa hết hạn (hạn trả lời: {moment(ballot.deadline, zone)}): số liệu "
                  f"dưới đây là số liệu tạm thời, tính đến {moment(now, zone)}.")
    elif ballot.status == BallotStatus.RECALLED:
        reason = _nfc(ballot.recall_reason).strip()
        notice = (f"Phiếu lấy ý kiến đã được thu hồi lúc {moment(as_of_time, zone)}"
                  + (f". Lý do: {reason}" if reason else "") + ".")

    decision: tuple[str, ...] = ()
    decision_line = ""
    closing = f"{ORGAN_SENTENCE} kính trình Thủ tướng Chính phủ xem xét, quyết định./."
    if ballot.decision and ballot.decided_at is not None:
        decision = paragraphs(ballot.decision)
        decider = ballot.decider if ballot.decider_id == ballot.decided_by_id else None
        if decider is None and ballot.decided_by_id is not None:
            decider = db.session.get(User, ballot.decided_by_id)
        who = f"{position(decider)} {_nfc(decider.full_name)}".strip() if decider is not None else ""
        decision_line = f"Ý kiến quyết định của {who}, ghi nhận lúc {moment(ballot.decided_at, zone)}:"
        closing = f"{ORGAN_SENTENCE} xin báo cáo./."

    return ReportData(
        header=Header(ORGAN, _number_line(number, REPORT_SYMBOL), date_line(as_of_time, zone)),
        ballot_title=_nfc(ballot.title), ballot_number=ballot_number, reference=reference,
        introduction=introduction,
        recipients=result.recipients, responded=result.responded, paper_responses=len(paper),
        basis=_nfc(result.basis), policy=NO_ANSWER_TEXT.get(ballot.no_answer_policy, ""),
        deemed_agreement=ballot.no_answer_policy == NoAnswerPolicy.AGREE,
        questions=tuple(questions), non_respondents=tuple(_person(u) for u in result.non_respondents),
        notice=notice, decision=decision, decision_line=decision_line, closing=closing)


def form_data(ballot: Ballot, *, recipient: User | None = None, tz: str | None = None) -> FormData:
    """Everything the printed form shows, read from a loaded ``Ballot`` (its questions and dossier
    are lazy-loaded here: call it before ending the transaction). ``recipient`` fills in the name
    and title of the member the paper copy is printed for."""
    zone = _zone(tz)
    documents = tuple(DocumentLine(_nfc(d.title), SECRECY_TEXT.get(d.secrecy, "")) for d in ballot.documents)
    respondent = _person(recipient) if recipient is not None else None
    addressee = (f"Kính gửi: Đồng chí {respondent.name}, {respondent.position}." if respondent
                 else "Kính gửi: Các thành viên Chính phủ.")
    deadline_line = (f"Đề nghị đồng chí gửi lại Phiếu này về {ORGAN_SENTENCE} trước "
                     f"{moment(ballot.deadline, zone)}.")
    policy = NO_ANSWER_TEXT.get(ballot.no_answer_policy, "")
    policy_line = (f"Quá thời hạn trên, nếu {ORGAN_SENTENCE} không nhận được ý kiến, {policy}."
                   if policy else "")
    return FormData(
        header=Header(ORGAN, _number_line(ballot.number, FORM_SYMBOL), date_line(ballot.issued_at, zone)),
        draft=ballot.status == BallotStatus.DRAFT, ballot_title=_nfc(ballot.title),
        ballot_number=_nfc(ballot.number).strip(), addressee=addressee,
        summary=paragraphs(ballot.summary), documents=documents,
        questions=tuple(_nfc(q.text) for q in ballot.questions), deadline_line=deadline_line,
        policy_line=policy_line, respondent=respondent)


def filename(data: ReportData | FormData, extension: str) -> str:
    """An ASCII file name for the download: ``bao-cao-tong-hop-45-plyk-vpcp.pdf``."""
    stem = "bao-cao-tong-hop" if isinstance(data, ReportData) else "phieu-lay-y-kien"
    ascii_number = unicodedata.normalize("NFKD", data.ballot_number.replace("đ", "d").replace("Đ", "D"))
    ascii_number = re.sub(r"[^A-Za-z0-9]+", "-", ascii_number.encode("ascii", "ignore").decode()).strip("-")
    return f"{stem}{'-' + ascii_number.lower() if ascii_number else ''}.{extension}"


def _report(data: ReportData | Result) -> ReportData:
    return data if isinstance(data, ReportData) else report_data(data)


def _form(data: FormData | Ballot) -> FormData:
    return data if isinstance(data, FormData) else form_data(data)


# --- PDF (WeasyPrint) ---------------------------------------------------------------------------------


@cache
def _templates():
    return nd30._templates(checkbox=CHECKBOX, paper_mark=PAPER_MARK, long_comment=LONG_COMMENT,
                           count_headings=COUNT_HEADINGS, member_headings=MEMBER_HEADINGS,
                           report_title=REPORT_TITLE, form_title=FORM_TITLE)


def report_html(data: ReportData | Result) -> str:
    """The report as print-only HTML (what the PDF is rendered from)."""
    return _templates().get_template("ballots/report.html").render(d=_report(data))


def form_html(data: FormData | Ballot) -> str:
    """The blank form as print-only HTML."""
    return _templates().get_template("ballots/form.html").render(d=_form(data))


def report_pdf(data: ReportData | Result) -> bytes:
    """The summary report as a PDF/A-3b file (A4, NĐ30 layout, fonts embedded)."""
    data = _report(data)
    return _pdf(report_html(data))


def blank_form_pdf(data: FormData | Ballot) -> bytes:
    """The form to print (and the draft's preview) as a PDF/A-3b file."""
    data = _form(data)
    return _pdf(form_html(data))


# --- DOCX (python-docx): the NĐ30 layer is in cabinet.core.nd30 ---------------------------------------

SIGN_COLUMNS_MM = (85, TEXT_WIDTH_MM - 85)
COUNT_COLUMNS_MM = (41, 31, 31, 31, TEXT_WIDTH_MM - 41 - 31 * 3)
DOT_MM = 0.25 * BODY_PT * 25.4 / 72  # a full stop is a quarter of an em in Times New Roman
MEMBER_COLUMNS_MM = (12, 40, 42, 28, TEXT_WIDTH_MM - 12 - 40 - 42 - 28)


class _Docx(nd30._Docx):
    """The NĐ30 DOCX layer, with the paper mark of the members table in italics."""

    italic_lines = frozenset({PAPER_MARK})

    def __init__(self, title: str) -> None:
        super().__init__(title, author=ORGAN_SENTENCE)


def report_docx(data: ReportData | Result) -> bytes:
    """The summary report as a DOCX with the same content and layout as the PDF."""
    data = _report(data)
    doc = _Docx(data.title)
    doc.national_header(data.header)
    doc.paragraph(REPORT_TITLE, bold=True, align="center", before=18, after=0, keep_next=True)
    doc.paragraph(data.subtitle, bold=True, align="center", after=0, keep_next=True)
    doc.short_rule(doc.doc, 40, TEXT_WIDTH_MM, before=4)
    doc.paragraph(f"({data.reference[:-1]})", italic=True, align="center", size=13, before=8, after=10)
    if data.notice:
        doc.paragraph(data.notice, bold=True, italic=True, indent=True)
    doc.paragraph(data.introduction, indent=True)
    doc.paragraph("I. KẾT QUẢ LẤY Ý KIẾN", bold=True, align="left", before=6, keep_next=True)
    for question in data.questions:
        doc.paragraph(f"{question.number}. Câu hỏi {question.number}: {question.text}", bold=True,
                      indent=True, before=6, keep_next=True)
        counts = doc.table(COUNT_COLUMNS_MM, rows=1, header=True)
        for cell, label in zip(counts.rows[0].cells, COUNT_HEADINGS, strict=True):
            doc.cell_text(cell, label, bold=True, align="center")
        doc.add_row(counts, [str(data.recipients), str(question.agree), str(question.disagree),
                             str(question.other), str(question.missing)], align=["center"] * 5)
        doc.paragraph(f"Kết quả: {data.outcome(question)}", bold=True, indent=True, before=6)
        doc.paragraph(data.rule(), italic=True, indent=True, size=13)
        doc.paragraph("Ý kiến của từng thành viên:", indent=True, keep_next=True)
        members = doc.table(MEMBER_COLUMNS_MM, rows=1, header=True)
        for cell, label in zip(members.rows[0].cells, MEMBER_HEADINGS, strict=True):
            doc.cell_text(cell, label, bold=True, align="center")
        for answer in question.answers:
            doc.add_row(members, [str(answer.number), answer.person.name, answer.person.position,
                                  answer.choice_text + (f"\n{PAPER_MARK}" if answer.paper else ""),
                                  answer.comment], align=["center", "left", "left", "left", "left"],
                        keep=len(answer.comment) <= LONG_COMMENT)
        if not question.answers:
            doc.add_row(members, ["", "Chưa có thành viên nào trả lời.", "", "", ""])
        line = doc.paragraph(before=6, indent=True)
        doc.run(line, data.non_respondents_label, bold=True)
        doc.run(line, f" {data.non_respondents_names}")
    doc.paragraph("II. Ý KIẾN QUYẾT ĐỊNH CỦA THỦ TƯỚNG CHÍNH PHỦ", bold=True, align="left", before=6,
                  keep_next=True)
    if data.decision:
        doc.paragraph(data.decision_line, indent=True, keep_next=True)
        for text in data.decision:
            doc.paragraph(text, italic=True, indent=True)
    else:
        doc.paragraph("Chưa có ý kiến quyết định.", indent=True)
    doc.paragraph(data.closing, indent=True)

    left, right = doc.table(HEADER_COLUMNS_MM, rows=1, ruled=False).rows[0].cells
    heading = left.paragraphs[0]
    doc._cell_paragraph(heading, "left", before=12)
    doc.run(heading, "Nơi nhận:", bold=True, italic=True, size=12)
    for line in data.recipients_list:
        doc.paragraph(f"- {line}", container=left, align="left", size=11, after=0, single=True)
    first = right.paragraphs[0]
    doc._cell_paragraph(first, "center", before=12)
    doc.run(first, data.signature[0], bold=True, size=14)
    for line in data.signature[1:]:
        doc.paragraph(line, container=right, align="center", bold=True, size=14, after=0, single=True)
    for _ in range(4):  # room for the signature (and the seal)
        doc.paragraph("", container=right, after=0)
    return doc.to_bytes()


def blank_form_docx(data: FormData | Ballot) -> bytes:
    """The form to print, as a DOCX (to fill in on a computer, or print from Word)."""
    data = _form(data)
    doc = _Docx(data.title)
    doc.national_header(data.header, draft=data.draft)
    doc.paragraph(FORM_TITLE, bold=True, align="center", before=18, after=0, keep_next=True)
    doc.paragraph(f"Về {data.ballot_title}", bold=True, align="center", after=0, keep_next=True)
    doc.short_rule(doc.doc, 40, TEXT_WIDTH_MM, before=4)
    doc.paragraph(data.addressee, align="center", before=10)
    for text in data.summary:
        doc.paragraph(text, indent=True)
    if data.documents:
        doc.paragraph("Hồ sơ kèm theo:", bold=True, indent=True, keep_next=True)
        for document in data.documents:
            suffix = f" ({document.secrecy})" if document.secrecy else ""
            doc.paragraph(f"- {document.title}{suffix}", indent=True, after=2)
    doc.paragraph("Ý KIẾN CỦA THÀNH VIÊN CHÍNH PHỦ", bold=True, align="center", before=12, keep_next=True)
    for number, text in enumerate(data.questions, start=1):
        doc.paragraph(f"Câu hỏi {number}: {text}", bold=True, indent=True, before=6, keep_next=True)
        boxes = doc.paragraph(indent=True, keep_next=True, align="left")
        for choice in data.choices:
            doc.run(boxes, CHECKBOX, size=16)
            doc.run(boxes, f" {choice}" + "\u00a0" * 12)
        doc.paragraph("Ý kiến khác / góp ý (nếu có):", italic=True, indent=True, after=0, keep_next=True)
        for i in range(4):
            doc.writing_line(keep_next=i < 3)
    doc.paragraph(data.deadline_line, bold=True, indent=True, before=12)
    if data.policy_line:
        doc.paragraph(data.policy_line, italic=True, indent=True, size=13)

    left, right = doc.table(SIGN_COLUMNS_MM, rows=1, ruled=False).rows[0].cells
    who = left.paragraphs[0]
    doc._cell_paragraph(who, "left", before=12)
    doc.run(who, "Họ và tên, chức vụ người cho ý kiến:", bold=True)
    if data.respondent:
        doc.paragraph(data.respondent.name, container=left, align="left", after=0)
        doc.paragraph(data.respondent.position, container=left, align="left", after=0)
    else:
        # Dots as text: LibreOffice draws no tab leader on such lines inside a table cell.
        dots = "." * int((SIGN_COLUMNS_MM[0] - 8) / DOT_MM)
        for _ in range(2):
            doc.paragraph(dots, container=left, align="left", before=10, after=0, single=True)
    first = right.paragraphs[0]
    doc._cell_paragraph(first, "center", before=12)
    gap = "\u00a0" * 6
    doc.run(first, f"Ngày{gap}tháng{gap}năm{gap}\u00a0\u00a0", italic=True)
    doc.paragraph("NGƯỜI CHO Ý KIẾN", container=right, align="center", bold=True, after=0, single=True)
    doc.paragraph("(Ký, ghi rõ họ tên)", container=right, align="center", italic=True, size=13, after=0)
    for _ in range(4):  # room for the signature
        doc.paragraph("", container=right, after=0)
    return doc.to_bytes()
