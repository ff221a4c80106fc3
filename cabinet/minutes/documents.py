"""The minutes (Biên bản phiên họp, Mẫu 1.9 of Nghị định 30/2020/NĐ-CP) and the conclusion notice
(Thông báo kết luận), rendered to PDF/A and DOCX (D11, D17, D18, D19).

Only rendering: :mod:`cabinet.minutes.service` builds the frozen snapshots of
:mod:`cabinet.minutes.content` inside the request's transaction, then calls these functions, which
touch no database and return bytes. Both formats carry the same content in the same order:

* the PDF is WeasyPrint's rendering of ``templates/minutes/print.html`` (``notice_print.html``) in
  the shared NĐ30 layout, as PDF/A-3b with the vendored Liberation Serif embedded. The minutes
  template leaves, in each signature block between its title and the printed name, a blank box the
  size of a signature stamp with the id ``signature-<field>``; :func:`minutes_pdf` returns where
  those boxes landed so that :func:`cabinet.signing.pdf.sign_pdf` puts each stamp in its box;
* the DOCX (python-docx, through :class:`cabinet.core.nd30._Docx`) is for the secretariat to edit or
  print from Word; it leaves the same blank room in the signature blocks.

Every ``*_html`` field is sanitised again here (:func:`cabinet.minutes.richtext.sanitise`) before it
is marked safe: whatever is stored, nothing but structure reaches a signed document. The wording
around the data is fixed Vietnamese legal text, not translated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from docx.shared import Mm
from markupsafe import Markup

from cabinet.core import nd30
from cabinet.core.nd30 import HEADER_COLUMNS_MM, TEXT_WIDTH_MM
from cabinet.minutes import richtext
from cabinet.minutes.content import MinutesData, NoticeData, PersonLine, VoteLine
from cabinet.signing.pdf import (
    CHAIR_FIELD,
    ORGANISATION_FIELD,
    SECRETARY_FIELD,
    STAMP_SIZE,
    SignaturePlace,
    signature_places,
)

DRAFT_MARK = "DỰ THẢO"
SECRETARY_TITLE = "THƯ KÝ"
CHAIR_TITLE = "CHỦ TỌA"
NOTICE_CLOSING = "Văn phòng Chính phủ thông báo để các cơ quan, đơn vị liên quan biết, thực hiện./."
FILE_STEMS = {"minutes": "bien-ban", "notice": "thong-bao-ket-luan"}

SIGN_COLUMNS_MM = (TEXT_WIDTH_MM / 2, TEXT_WIDTH_MM / 2)  # THƯ KÝ | CHỦ TỌA: 82.5 mm each
COUNT_COLUMNS_MM = (95, 40)  # Phương án | Số phiếu
VOTER_COLUMNS_MM = (15, TEXT_WIDTH_MM - 15 - 50, 50)  # STT | Họ và tên | Biểu quyết
LINE_INDENT_MM = (19.7, 7.0)  # a list line: left edge, hanging part ("1. ", "- ")


@dataclass(frozen=True)
class AttendanceGroup:
    """One part of *Thành phần tham dự*: a lettered heading and its lines."""

    heading: str
    lines: tuple[str, ...]


def _sentence(text: str) -> str:
    """The text ending with a full stop (unless it already ends with punctuation)."""
    text = (text or "").rstrip()
    return text if not text or text.endswith((".", ";", ":", "!", "?", "…")) else f"{text}."


def _rich(html: str | None) -> Markup:
    """Sanitised again at render time (defence in depth) and only then marked safe."""
    return Markup(richtext.sanitise(html))  # noqa: S704  (sanitised: no attribute, no script)


def attendance(data: MinutesData) -> list[AttendanceGroup]:
    """*Thành phần tham dự*, lettered a), b)…: the members present (numbered), the members absent
    with their reasons (said even when none: an absence matters for the quorum), then the deputies
    and the guests when there are any."""
    def lines(people: tuple[PersonLine, ...], numbered: bool) -> tuple[str, ...]:
        last = len(people)
        return tuple(f"{f'{i}.' if numbered else '-'} {p.text}{'.' if i == last else ';'}"
                     for i, p in enumerate(people, start=1))

    groups = [(f"Thành viên Chính phủ có mặt ({len(data.present)}):", lines(data.present, True))]
    if data.absent:
        groups.append((f"Thành viên Chính phủ vắng mặt ({len(data.absent)}):", lines(data.absent, False)))
    else:
        groups.append(("Thành viên Chính phủ vắng mặt: không có.", ()))
    if data.deputies:
        groups.append((f"Đại biểu dự thay thành viên Chính phủ ({len(data.deputies)}):",
                       lines(data.deputies, False)))
    if data.guests:
        groups.append((f"Đại biểu khách mời ({len(data.guests)}):", lines(data.guests, False)))
    return [AttendanceGroup(f"{letter}) {heading}", group_lines)
            for letter, (heading, group_lines) in zip("abcdefgh", groups, strict=False)]


def vote_heading(vote: VoteLine, index: int, total: int) -> str:
    """``Biểu quyết (biểu quyết công khai): Thông qua dự thảo …?``."""
    kind = "biểu quyết kín" if vote.secret else "biểu quyết công khai"
    number = f" {index}" if total > 1 else ""
    return f"Biểu quyết{number} ({kind}): {vote.question}"


# --- PDF ----------------------------------------------------------------------------------------------


@cache
def _templates():
    env = nd30._templates(attendance=attendance, vote_heading=vote_heading, stamp_size=STAMP_SIZE,
                          notice_closing=NOTICE_CLOSING,
                          fields={"secretary": SECRETARY_FIELD, "chair": CHAIR_FIELD,
                                  "organisation": ORGANISATION_FIELD})
    env.filters.update(rich=_rich, sentence=_sentence)
    return env


def minutes_html(data: MinutesData) -> str:
    """The minutes as print-only HTML (what the PDF is rendered from)."""
    return _templates().get_template("minutes/print.html").render(d=data)


def minutes_pdf(data: MinutesData) -> tuple[bytes, dict[str, SignaturePlace]]:
    """The minutes as PDF/A-3b, and where each signature stamp goes (``ThuKy``, ``ChuToa``,
    ``CoQuan`` → page and box, for :func:`cabinet.signing.pdf.sign_pdf`). Laid out once: the
    places are read from the very layout that is written."""
    document = nd30.render(minutes_html(data))
    places = signature_places(document)
    return nd30.write_pdf(document), places


def notice_html(data: NoticeData) -> str:
    """The conclusion notice as print-only HTML."""
    return _templates().get_template("minutes/notice_print.html").render(d=data)


def notice_pdf(data: NoticeData) -> bytes:
    """The conclusion notice as PDF/A-3b."""
    return nd30._pdf(notice_html(data))


def filename(kind: str, number: str, version: int | None = None, ext: str = "pdf") -> str:
    """An ASCII file name for a download: ``bien-ban-12-bb-cp-v2.pdf``,
    ``thong-bao-ket-luan-45-tb-vpcp.docx``; ``kind`` is ``minutes`` or ``notice``, ``number`` the
    document's number and symbol (may be empty before the registry gives one)."""
    stem = FILE_STEMS[kind]
    ascii_number = unicodedata.normalize("NFKD", (number or "").replace("đ", "d").replace("Đ", "D"))
    ascii_number = re.sub(r"[^A-Za-z0-9]+", "-", ascii_number.encode("ascii", "ignore").decode())
    ascii_number = ascii_number.strip("-").lower()
    parts = [stem, ascii_number, f"v{version}" if version is not None else ""]
    return "-".join(part for part in parts if part) + f".{ext.lstrip('.')}"


# --- DOCX ---------------------------------------------------------------------------------------------


def _title_block(doc: nd30._Docx, title: str, subtitle: str) -> None:
    doc.paragraph(title, bold=True, align="center", before=18, after=0, keep_next=True)
    doc.paragraph(subtitle, bold=True, align="center", after=0, keep_next=True)
    doc.short_rule(doc.doc, 40, TEXT_WIDTH_MM, before=4)


def _line(doc: nd30._Docx, text: str, *, keep_next: bool = False) -> None:
    """A list line under a hanging indent, as ``.line`` in the PDF."""
    paragraph = doc.paragraph(text, align="left", after=2, keep_next=keep_next)
    fmt = paragraph.paragraph_format
    fmt.left_indent, fmt.first_line_indent = Mm(LINE_INDENT_MM[0]), Mm(-LINE_INDENT_MM[1])


def _vote(doc: nd30._Docx, vote: VoteLine, index: int, total: int) -> None:
    doc.paragraph(vote_heading(vote, index, total), indent=True, keep_next=True)
    counts = doc.table(COUNT_COLUMNS_MM, rows=1, header=True)
    for cell, label in zip(counts.rows[0].cells, ("Phương án", "Số phiếu"), strict=True):
        doc.cell_text(cell, label, bold=True, align="center")
    for label, count in vote.counts:
        doc.add_row(counts, [label, str(count)], align=["left", "center"])
    doc.add_row(counts, ["Số thành viên đã biểu quyết", str(vote.voted)], align=["left", "center"])
    doc.paragraph(vote.result, bold=True, indent=True, before=6)
    if vote.voters:
        doc.paragraph("Biểu quyết của từng thành viên:", indent=True, keep_next=True)
        voters = doc.table(VOTER_COLUMNS_MM, rows=1, header=True)
        for cell, label in zip(voters.rows[0].cells, ("STT", "Họ và tên", "Biểu quyết"), strict=True):
            doc.cell_text(cell, label, bold=True, align="center")
        for number, (name, choice) in enumerate(vote.voters, start=1):
            doc.add_row(voters, [str(number), name, choice], align=["center", "left", "left"])
        doc.paragraph("", after=0)  # a table straight after a table would merge with it


def minutes_docx(data: MinutesData) -> bytes:
    """The minutes as a DOCX with the same content and layout as the PDF."""
    doc = nd30._Docx(f"{data.title} {data.subtitle}")
    if data.draft:
        doc.page_mark(DRAFT_MARK)
    doc.national_header(data.header, draft=DRAFT_MARK if data.draft else False, secrecy=data.secrecy)
    _title_block(doc, data.title, data.subtitle)
    if data.correction_note:
        doc.paragraph(data.correction_note, italic=True, align="center", before=8, after=10)
    for number, (label, value) in enumerate((
            ("Thời gian bắt đầu", data.started), ("Địa điểm", data.place),
            ("Chủ trì (chủ tọa)", data.chair.text), ("Thư ký (người ghi biên bản)", data.secretary.text))):
        before = 10 if number == 0 and not data.correction_note else 0  # the PDF's space under the rule
        doc.paragraph(f"{label}: {_sentence(value)}", indent=True, before=before)
    doc.paragraph("Thành phần tham dự:", indent=True, keep_next=True)
    for group in attendance(data):
        doc.paragraph(group.heading, indent=True, before=4, after=2, keep_next=bool(group.lines))
        for line in group.lines:
            _line(doc, line)
    if data.quorum:
        doc.paragraph(data.quorum, indent=True, before=4)
    doc.paragraph("Nội dung:", indent=True, keep_next=True)
    richtext.add_html_to_docx(doc, data.opening_html)
    for item in data.items:
        doc.paragraph(f"{item.number}. {item.title}", bold=True, indent=True, before=10, keep_next=True)
        if item.presenter:
            doc.paragraph(f"Cơ quan trình: {_sentence(item.presenter)}", indent=True)
        if item.documents:
            doc.paragraph("Tài liệu:", indent=True, keep_next=True)
            for i, title in enumerate(item.documents, start=1):
                _line(doc, f"- {title}{'.' if i == len(item.documents) else ';'}")
        if not richtext.is_blank(item.discussion_html):
            doc.paragraph("Ý kiến thảo luận:", indent=True, keep_next=True)
            richtext.add_html_to_docx(doc, item.discussion_html)
        for index, vote in enumerate(item.votes, start=1):
            _vote(doc, vote, index, len(item.votes))
        if not richtext.is_blank(item.conclusion_html):
            doc.paragraph("Kết luận của chủ tọa:", indent=True, keep_next=True)
            richtext.add_html_to_docx(doc, item.conclusion_html, italic=True)
        if item.status:
            doc.paragraph(f"Tình trạng: {_sentence(item.status)}", italic=True, indent=True)
    richtext.add_html_to_docx(doc, data.closing_html)
    if data.ended:
        doc.paragraph(f"Phiên họp kết thúc vào hồi {data.ended}./.", indent=True, keep_next=True)

    table = doc.table(SIGN_COLUMNS_MM, rows=2, ruled=False)
    for cell, title, name in zip(table.rows[0].cells, (SECRETARY_TITLE, CHAIR_TITLE),
                                 (data.secretary_name, data.chair_name), strict=True):
        heading = cell.paragraphs[0]
        doc._cell_paragraph(heading, "center", before=14)
        heading.paragraph_format.keep_with_next = True
        doc.run(heading, title, bold=True)
        doc.blank(cell, STAMP_SIZE[1] + 12)  # the stamp's height and the PDF's margins around it
        signer = doc.paragraph(name, container=cell, bold=True, align="center", after=0, single=True,
                               keep_next=True)
        signer.paragraph_format.keep_with_next = True
    left, right = table.rows[1].cells
    heading = left.paragraphs[0]
    doc._cell_paragraph(heading, "left", before=14)
    doc.run(heading, "Nơi nhận:", bold=True, italic=True, size=12)
    for line in data.recipients:
        doc.paragraph(f"- {line}", container=left, align="left", size=11, after=0, single=True)
    doc.blank(right, STAMP_SIZE[1] + 12)  # the organisation's seal-signature
    return doc.to_bytes()


def notice_docx(data: NoticeData) -> bytes:
    """The conclusion notice as a DOCX with the same content and layout as the PDF."""
    doc = nd30._Docx(f"{data.title} {data.subtitle}")
    if data.draft:
        doc.page_mark(DRAFT_MARK)
    doc.national_header(data.header, draft=DRAFT_MARK if data.draft else False, secrecy=data.secrecy)
    _title_block(doc, data.title, data.subtitle)
    doc.paragraph(data.introduction, indent=True, before=10)
    for item in data.items:
        doc.paragraph(f"{item.number}. {item.title}", bold=True, indent=True, before=10, keep_next=True)
        richtext.add_html_to_docx(doc, item.conclusion_html)
    doc.paragraph(NOTICE_CLOSING, indent=True, keep_next=True)

    left, right = doc.table(HEADER_COLUMNS_MM, rows=1, ruled=False).rows[0].cells
    heading = left.paragraphs[0]
    doc._cell_paragraph(heading, "left", before=12)
    doc.run(heading, "Nơi nhận:", bold=True, italic=True, size=12)
    for line in data.recipients:
        doc.paragraph(f"- {line}", container=left, align="left", size=11, after=0, single=True)
    first = right.paragraphs[0]
    doc._cell_paragraph(first, "center", before=12)
    doc.run(first, data.signature[0] if data.signature else "", bold=True)
    for line in data.signature[1:]:
        doc.paragraph(line, container=right, align="center", bold=True, after=0, single=True)
    doc.blank(right, 85)  # 30 mm for the signature and the seal, as in the PDF
    if data.signer_name:
        doc.paragraph(data.signer_name, container=right, align="center", bold=True, after=0, single=True)
    return doc.to_bytes()

