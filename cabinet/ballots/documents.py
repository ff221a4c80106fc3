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
Vietnamese glyph), embedded in the PDF; the DOCX names Times New Roman, as NĐ30 asks.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from cabinet.ballots.models import Ballot, BallotStatus, Choice, NoAnswerPolicy, SignatureMethod
from cabinet.core.timeutil import as_utc, utcnow
from cabinet.extensions import db
from cabinet.i18n import vietnamese_date
from cabinet.users.models import User

if TYPE_CHECKING:
    from cabinet.ballots.service import Result

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
FONT_DIR = PROJECT_ROOT / "static" / "fonts"
FONTS = {
    ("normal", "normal"): FONT_DIR / "LiberationSerif-Regular.ttf",
    ("bold", "normal"): FONT_DIR / "LiberationSerif-Bold.ttf",
    ("normal", "italic"): FONT_DIR / "LiberationSerif-Italic.ttf",
    ("bold", "italic"): FONT_DIR / "LiberationSerif-BoldItalic.ttf",
}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

NATIONAL_TITLE = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
NATIONAL_MOTTO = "Độc lập - Tự do - Hạnh phúc"
ORGAN = "VĂN PHÒNG CHÍNH PHỦ"
ORGAN_SENTENCE = "Văn phòng Chính phủ"
PLACE = "Hà Nội"
REPORT_SYMBOL = "BC-VPCP"
FORM_SYMBOL = "PLYK-VPCP"
# The number is given by the registry (văn thư) when the report is signed: drafts leave its space.
NUMBER_SPACE = "\u00a0" * 10
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
class Header:
    """The two header columns of D18."""

    organ: str
    number_line: str  # "Số: 45/PLYK-VPCP"
    date_line: str  # "Hà Nội, ngày 05 tháng 3 năm 2026"


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


def _nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def _zone(tz: str | None) -> ZoneInfo:
    if tz is None:
        try:
            from flask import current_app

            tz = current_app.config.get("CABINET_TIMEZONE")
        except RuntimeError:  # outside an application (bench, scripts)
            tz = None
    return ZoneInfo(tz or DEFAULT_TIMEZONE)


def date_line(value: datetime | None, zone: ZoneInfo, place: str = PLACE) -> str:
    """The place-and-date line; with no date, the blanks a draft leaves for the day of signing."""
    if value is None:
        year = utcnow().astimezone(zone).year
        gap = "\u00a0" * 6
        return f"{place}, ngày{gap}tháng{gap}năm {year}"
    return f"{place}, {vietnamese_date(as_utc(value).astimezone(zone))}"


def moment(value: datetime, zone: ZoneInfo) -> str:
    """``17 giờ 00, ngày 05 tháng 3 năm 2026``."""
    local = as_utc(value).astimezone(zone)
    return f"{local.hour:02d} giờ {local.minute:02d}, {vietnamese_date(local)}"


def position(user: User) -> str:
    """Chức vụ as written in Government documents: the title, then the organisation unless the
    title already names it or an organ (``Thủ tướng Chính phủ``, ``Bộ trưởng Bộ Tư pháp``)."""
    title, organisation = _nfc(user.title).strip(), _nfc(user.organisation).strip()
    if not organisation or organisation.casefold() in title.casefold() or title.endswith("Chính phủ"):
        return title
    return f"{title} {organisation}".strip()


def _person(user: User) -> Person:
    return Person(_nfc(user.full_name), position(user))


def paragraphs(text: str | None) -> tuple[str, ...]:
    """Non-empty lines of a free text, each a paragraph."""
    return tuple(line.strip() for line in _nfc(text).splitlines() if line.strip())


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
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(PROJECT_ROOT / "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    fonts = [{"weight": weight, "style": style, "url": path.as_uri()}
             for (weight, style), path in FONTS.items()]
    env.globals.update(fonts=fonts, national_title=NATIONAL_TITLE, national_motto=NATIONAL_MOTTO,
                       checkbox=CHECKBOX, paper_mark=PAPER_MARK, long_comment=LONG_COMMENT,
                       count_headings=COUNT_HEADINGS, member_headings=MEMBER_HEADINGS,
                       report_title=REPORT_TITLE, form_title=FORM_TITLE)
    return env


def report_html(data: ReportData | Result) -> str:
    """The report as print-only HTML (what the PDF is rendered from)."""
    return _templates().get_template("ballots/report.html").render(d=_report(data))


def form_html(data: FormData | Ballot) -> str:
    """The blank form as print-only HTML."""
    return _templates().get_template("ballots/form.html").render(d=_form(data))


def _pdf(html: str) -> bytes:
    import weasyprint  # heavy: imported on first use only

    document = weasyprint.HTML(string=html, base_url=str(PROJECT_ROOT))
    # PDF/A-3b costs nothing measurable here and is what the archive wants (D19).
    return document.write_pdf(pdf_variant="pdf/a-3b")


def report_pdf(data: ReportData | Result) -> bytes:
    """The summary report as a PDF/A-3b file (A4, NĐ30 layout, fonts embedded)."""
    data = _report(data)
    return _pdf(report_html(data))


def blank_form_pdf(data: FormData | Ballot) -> bytes:
    """The form to print (and the draft's preview) as a PDF/A-3b file."""
    data = _form(data)
    return _pdf(form_html(data))


# --- DOCX (python-docx) -------------------------------------------------------------------------------

DOCX_FONT = "Times New Roman"
BODY_PT = 14
TABLE_PT = 12
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}
TEXT_WIDTH_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]  # 165
HEADER_COLUMNS_MM = (62, TEXT_WIDTH_MM - 62)
SIGN_COLUMNS_MM = (85, TEXT_WIDTH_MM - 85)
COUNT_COLUMNS_MM = (41, 31, 31, 31, TEXT_WIDTH_MM - 41 - 31 * 3)
DOT_MM = 0.25 * BODY_PT * 25.4 / 72  # a full stop is a quarter of an em in Times New Roman
MEMBER_COLUMNS_MM = (12, 40, 42, 28, TEXT_WIDTH_MM - 12 - 40 - 42 - 28)

# Word refuses a file whose property elements are out of the schema's order (LibreOffice does not
# care): elements python-docx has no API for are inserted at their place in these sequences.
_PPR_ORDER = ("pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers "
              "pBdr shd tabs suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE "
              "autoSpaceDN bidi adjustRightInd snapToGrid spacing ind contextualSpacing mirrorIndents "
              "suppressOverlap jc textDirection textAlignment textboxTightWrap outlineLvl divId cnfStyle "
              "rPr sectPr pPrChange").split()
_RPR_ORDER = ("rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint "
              "noProof snapToGrid vanish webHidden color spacing w kern position sz szCs highlight u "
              "effect bdr shd fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath").split()
_TBLPR_ORDER = ("tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc "
                "tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption "
                "tblDescription").split()
_ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
          "right": WD_ALIGN_PARAGRAPH.RIGHT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


def _child(parent, tag: str, order: list[str]):
    """``parent``'s ``w:tag`` child, created at its place in the schema's ``order`` if missing."""
    found = parent.find(qn(f"w:{tag}"))
    if found is not None:
        return found
    element = OxmlElement(f"w:{tag}")
    later = order[order.index(tag) + 1:]
    parent.insert_element_before(element, *(f"w:{t}" for t in later))
    return element


def _set(element, **attributes: str) -> None:
    for key, value in attributes.items():
        element.set(qn(f"w:{key}"), value)


class _Docx:
    """A thin layer over python-docx for NĐ30 documents: Times New Roman on every script, A4 and
    NĐ30 margins, page numbers, fixed table widths (on the grid and on every cell: LibreOffice reads
    one, Word the other), borderless or ruled tables."""

    def __init__(self, title: str) -> None:
        self.doc = Document()
        props = self.doc.core_properties
        props.title = title[:250]
        props.author = ORGAN_SENTENCE
        props.language = "vi-VN"
        section = self.doc.sections[0]
        section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
        section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
        section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
        section.header_distance, section.footer_distance = Mm(10), Mm(10)
        for name, size in (("Normal", BODY_PT), ("Header", 13), ("Footer", 13)):
            self._style_font(self.doc.styles[name], size)
        normal = self.doc.styles["Normal"].paragraph_format
        normal.space_before, normal.space_after = Pt(0), Pt(6)
        normal.line_spacing = 1.1
        self._page_numbers(section)

    @staticmethod
    def _style_font(style, size: float) -> None:
        """Times New Roman for Latin, East Asian and complex scripts alike (Word picks the font by
        script: without ``eastAsia``/``cs`` some Vietnamese letters fall back to another font)."""
        style.font.name = DOCX_FONT
        style.font.size = Pt(size)
        rpr = style.element.get_or_add_rPr()
        _set(rpr.get_or_add_rFonts(), ascii=DOCX_FONT, hAnsi=DOCX_FONT, eastAsia=DOCX_FONT, cs=DOCX_FONT)
        _set(_child(rpr, "szCs", _RPR_ORDER), val=str(round(size * 2)))
        _set(_child(rpr, "lang", _RPR_ORDER), val="vi-VN", eastAsia="vi-VN", bidi="ar-SA")

    def _page_numbers(self, section) -> None:
        """NĐ30: page numbers centred in the top margin, not shown on the first page."""
        section.different_first_page_header_footer = True
        section.first_page_header.is_linked_to_previous = False  # an empty header of its own
        header = section.header
        header.is_linked_to_previous = False
        paragraph = header.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        self._field(paragraph, "PAGE", "2")

    @staticmethod
    def _field(paragraph, instruction: str, shown: str) -> None:
        def char(kind: str):
            element = OxmlElement("w:fldChar")
            _set(element, fldCharType=kind)
            return element

        paragraph.add_run()._r.append(char("begin"))
        code = OxmlElement("w:instrText")
        code.set(qn("xml:space"), "preserve")
        code.text = f" {instruction} "
        paragraph.add_run()._r.append(code)
        paragraph.add_run()._r.append(char("separate"))
        paragraph.add_run(shown)
        paragraph.add_run()._r.append(char("end"))

    def paragraph(self, text: str = "", *, container=None, bold: bool = False, italic: bool = False,
                  align: str = "justify", size: float | None = None, indent: bool = False,
                  before: float = 0, after: float = 6, keep_next: bool = False, single: bool = False):
        paragraph = (container if container is not None else self.doc).add_paragraph()
        paragraph.alignment = _ALIGN[align]
        fmt = paragraph.paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(after)
        if single:
            fmt.line_spacing = 1.0
        if indent:
            fmt.first_line_indent = Mm(12.7)
        if keep_next:
            fmt.keep_with_next = True
        if text:
            self.run(paragraph, text, bold=bold, italic=italic, size=size)
        return paragraph

    @staticmethod
    def run(paragraph, text: str, *, bold: bool = False, italic: bool = False, size: float | None = None,
            underline: bool = False):
        run = paragraph.add_run(text)
        run.bold = bold or None
        run.italic = italic or None
        run.underline = underline or None
        if size is not None:
            run.font.size = Pt(size)
            _set(_child(run._r.get_or_add_rPr(), "szCs", _RPR_ORDER), val=str(round(size * 2)))
        return run

    @staticmethod
    def _border(paragraph, edge: str, style: str) -> None:
        borders = _child(paragraph._p.get_or_add_pPr(), "pBdr", _PPR_ORDER)
        line = OxmlElement(f"w:{edge}")
        _set(line, val=style, sz="6", space="1", color="000000")
        borders.append(line)

    def writing_line(self, container=None, *, width_mm: float = TEXT_WIDTH_MM,
                     keep_next: bool = False) -> None:
        """A dotted line to write on, across ``width_mm``: a tab with a dot leader (paragraph borders
        would merge into one box around consecutive lines, in Word as in LibreOffice)."""
        paragraph = self.paragraph(container=container, align="left", before=10, after=0, keep_next=keep_next,
                                   single=True)
        paragraph.paragraph_format.tab_stops.add_tab_stop(Mm(width_mm), WD_TAB_ALIGNMENT.RIGHT,
                                                          WD_TAB_LEADER.DOTS)
        paragraph.add_run("\t")

    def short_rule(self, container, width_mm: float, column_mm: float, *, before: float = 1) -> None:
        """A short centred line (NĐ30's line under the organ's name and under the title): an empty,
        2-point-high paragraph whose indents leave ``width_mm`` of it, with a top border."""
        paragraph = container.add_paragraph()
        fmt = paragraph.paragraph_format
        side = Mm(max((column_mm - width_mm) / 2, 0))
        fmt.left_indent, fmt.right_indent, fmt.first_line_indent = side, side, Mm(0)
        fmt.space_before, fmt.space_after = Pt(before), Pt(0)
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(2)
        mark = _child(paragraph._p.get_or_add_pPr(), "rPr", _PPR_ORDER)
        _set(_child(mark, "sz", _RPR_ORDER), val="2")
        _set(_child(mark, "szCs", _RPR_ORDER), val="2")
        self._border(paragraph, "top", "single")

    def table(self, widths_mm: Iterable[float], *, rows: int = 0, ruled: bool = True, header: bool = False):
        """A table of fixed widths; ``ruled`` draws the grid, else no borders at all. ``header``:
        the first row repeats at the top of every page."""
        widths = [Mm(w) for w in widths_mm]
        table = self.doc.add_table(rows=rows, cols=len(widths))
        if ruled:
            table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False  # tblLayout fixed
        tbl_pr = table._tbl.tblPr
        _set(_child(tbl_pr, "tblW", _TBLPR_ORDER), type="dxa", w=str(sum(w.twips for w in widths)))
        margins = _child(tbl_pr, "tblCellMar", _TBLPR_ORDER)  # 4 pt each side, as in the PDF
        for edge in ("left", "right"):
            element = OxmlElement(f"w:{edge}")
            _set(element, w="80", type="dxa")
            margins.append(element)
        if not ruled:
            borders = _child(tbl_pr, "tblBorders", _TBLPR_ORDER)
            for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
                element = OxmlElement(f"w:{edge}")
                _set(element, val="nil")
                borders.append(element)
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width
        self._widths[id(table._tbl)] = widths
        for row in table.rows:
            self._size_row(table, row)
        if header and rows:
            repeat = OxmlElement("w:tblHeader")
            _set(repeat, val="true")
            table.rows[0]._tr.get_or_add_trPr().append(repeat)
        return table

    @property
    def _widths(self) -> dict[int, list]:
        if not hasattr(self, "_table_widths"):
            self._table_widths: dict[int, list] = {}
        return self._table_widths

    def _size_row(self, table, row, *, keep: bool = True) -> None:
        for cell, width in zip(row.cells, self._widths[id(table._tbl)], strict=True):
            cell.width = width
        if keep:  # trPr's children are a free choice: any order is valid
            row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))

    def add_row(self, table, values: Iterable[str], *, align: Iterable[str] | None = None, keep: bool = True):
        row = table.add_row()
        self._size_row(table, row, keep=keep)
        aligns = list(align) if align is not None else ["left"] * len(row.cells)
        for cell, value, where in zip(row.cells, values, aligns, strict=True):
            self.cell_text(cell, value, align=where)
        return row

    def cell_text(self, cell, value: str, *, bold: bool = False, align: str = "left",
                  size: float = TABLE_PT) -> None:
        """Lines of text in a cell (the paper mark in italics)."""
        for i, line in enumerate(value.split("\n") if value else [""]):
            paragraph = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
            self._cell_paragraph(paragraph, align)
            if line:
                self.run(paragraph, line, bold=bold, italic=line == PAPER_MARK, size=size)

    @staticmethod
    def _cell_paragraph(paragraph, align: str, *, before: float = 1) -> None:
        paragraph.alignment = _ALIGN[align]
        fmt = paragraph.paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(1)
        fmt.line_spacing = 1.0

    def national_header(self, header: Header, *, draft: bool = False) -> None:
        """D18: organ and number on the left; national title, motto, place and date on the right."""
        left, right = self.table(HEADER_COLUMNS_MM, rows=1, ruled=False).rows[0].cells
        organ = left.paragraphs[0]
        self._cell_paragraph(organ, "center", before=0)
        self.run(organ, header.organ, bold=True, size=13)
        self.short_rule(left, 20, HEADER_COLUMNS_MM[0], before=2)
        self.paragraph(header.number_line, container=left, align="center", size=13, before=6, after=0,
                       single=True)
        if draft:
            self.paragraph("DỰ THẢO (bản xem trước)", container=left, align="center", bold=True, size=12,
                           before=8, after=0)
        title = right.paragraphs[0]
        self._cell_paragraph(title, "center", before=0)
        self.run(title, NATIONAL_TITLE, bold=True, size=12.5)
        motto = self.paragraph(container=right, align="center", after=0, single=True)
        self.run(motto, NATIONAL_MOTTO, bold=True, size=13.5, underline=True)
        self.paragraph(header.date_line, container=right, align="center", italic=True, size=14, before=8,
                       after=0, single=True)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()


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
