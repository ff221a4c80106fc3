"""What every printed document of e-Cabinet shares: the layout of Nghị định 30/2020/NĐ-CP (D17, D18).

The ballot report and form (:mod:`cabinet.ballots.documents`), the minutes and the conclusion notice
(:mod:`cabinet.minutes.documents`) are all rendered twice from the same snapshot: to PDF/A with
WeasyPrint (from the Jinja templates ``templates/_nd30_print.html`` / ``_nd30_macros.html``) and to
DOCX with python-docx (:class:`_Docx`). Both follow NĐ30: A4, margins 20/15/20/30 mm, Times New
Roman (the vendored Liberation Serif, its metric twin with every Vietnamese glyph, embedded in the
PDF), body 14 pt, the two-column national header, page numbers centred in the top margin from page 2.

Kept here, not in either feature, so that a fix to the header or to the DOCX quirks (element order
Word insists on, the column widths LibreOffice needs) is made once.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT, WD_TAB_LEADER
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from cabinet.core.timeutil import as_utc, utcnow
from cabinet.i18n import vietnamese_date

if TYPE_CHECKING:
    from jinja2 import Environment

    from cabinet.users.models import User

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
PLACE = "Hà Nội"
# The number is given by the registry (văn thư) when a document is signed: drafts leave its space.
NUMBER_SPACE = "\u00a0" * 10


@dataclass(frozen=True)
class Header:
    """The two header columns of D18 (same fields as :class:`cabinet.minutes.content.Header`)."""

    organ: str  # "VĂN PHÒNG CHÍNH PHỦ"
    number_line: str  # "Số: 45/PLYK-VPCP"
    date_line: str  # "Hà Nội, ngày 05 tháng 3 năm 2026"
    parent_organ: str = ""  # the organ above, when there is one (shown above ``organ``)


class HeaderLike(Protocol):
    """Any header snapshot: this module's :class:`Header` or the minutes' one."""

    organ: str
    number_line: str
    date_line: str


# --- text helpers -----------------------------------------------------------------------------------


def _nfc(text: str | None) -> str:
    """NFC, so that "ế" is one code point whatever the keyboard sent (fonts and search agree)."""
    return unicodedata.normalize("NFC", text or "")


def _zone(tz: str | None) -> ZoneInfo:
    """The configured time zone (the app's ``CABINET_TIMEZONE``), Hà Nội outside an app."""
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


def paragraphs(text: str | None) -> tuple[str, ...]:
    """Non-empty lines of a free text, each a paragraph."""
    return tuple(line.strip() for line in _nfc(text).splitlines() if line.strip())


# --- PDF (WeasyPrint) ---------------------------------------------------------------------------------


def _templates(**extra_globals: Any) -> Environment:
    """A Jinja environment over ``templates/`` for print-only HTML: autoescaped, strict (a missing
    field is an error, not a blank in a legal text), with the fonts and the national title as
    globals, plus the caller's ``extra_globals``. Build it once per module (``functools.cache``)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(PROJECT_ROOT / "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    fonts = [{"weight": weight, "style": style, "url": path.as_uri()}
             for (weight, style), path in FONTS.items()]
    env.globals.update(fonts=fonts, national_title=NATIONAL_TITLE, national_motto=NATIONAL_MOTTO)
    env.globals.update(extra_globals)
    return env


def render(html: str):
    """The laid-out WeasyPrint document (pages, anchors): for callers that need to know where
    something landed (the signature places) before writing the PDF with :func:`write_pdf`."""
    import weasyprint  # heavy: imported on first use only

    return weasyprint.HTML(string=html, base_url=str(PROJECT_ROOT)).render()


def write_pdf(document) -> bytes:
    """A rendered document as PDF/A-3b: costs nothing measurable and is what the archive wants (D19)."""
    return document.write_pdf(pdf_variant="pdf/a-3b")


def _pdf(html: str) -> bytes:
    """Print-only HTML → PDF/A-3b bytes (A4, NĐ30 layout from the template, fonts embedded)."""
    return write_pdf(render(html))


# --- DOCX (python-docx) -------------------------------------------------------------------------------

DOCX_FONT = "Times New Roman"
BODY_PT = 14
TABLE_PT = 12
PAGE_MM = (210, 297)
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}
TEXT_WIDTH_MM = PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"]  # 165
HEADER_COLUMNS_MM = (62, TEXT_WIDTH_MM - 62)
INDENT_MM = 12.7  # first-line indent of body paragraphs

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
    one, Word the other), borderless or ruled tables.

    ``italic_lines``: cell lines written in italics wherever they appear (the ballots' paper mark).
    """

    italic_lines: frozenset[str] = frozenset()

    def __init__(self, title: str, *, author: str = "Văn phòng Chính phủ") -> None:
        self.doc = Document()
        props = self.doc.core_properties
        props.title = title[:250]
        props.author = author
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

    def page_mark(self, text: str) -> None:
        """A mark at the top right of every page (``DỰ THẢO``): on the first page's header alone,
        and after the page number on the others (a centre and a right tab keep the number centred)."""
        section = self.doc.sections[0]
        first = section.first_page_header.paragraphs[0]
        first.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        self.run(first, text, bold=True, size=12)
        paragraph = section.header.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
        stops = paragraph.paragraph_format.tab_stops
        stops.add_tab_stop(Mm(TEXT_WIDTH_MM / 2), WD_TAB_ALIGNMENT.CENTER)
        stops.add_tab_stop(Mm(TEXT_WIDTH_MM), WD_TAB_ALIGNMENT.RIGHT)
        paragraph.runs[0]._r.addprevious(paragraph.add_run("\t")._r)
        paragraph.add_run("\t")
        self.run(paragraph, text, bold=True, size=12)

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
            fmt.first_line_indent = Mm(INDENT_MM)
        if keep_next:
            fmt.keep_with_next = True
        if text:
            self.run(paragraph, text, bold=bold, italic=italic, size=size)
        return paragraph

    @staticmethod
    def run(paragraph, text: str, *, bold: bool = False, italic: bool = False, size: float | None = None,
            underline: bool = False, strike: bool = False):
        run = paragraph.add_run(text)
        run.bold = bold or None
        run.italic = italic or None
        run.underline = underline or None
        if strike:
            run.font.strike = True
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

    def boxed(self, paragraph) -> None:
        """A frame around a paragraph (the secrecy stamp): Word draws it across the paragraph's
        width, so the caller narrows it with indents."""
        for edge in ("top", "left", "bottom", "right"):
            self._border(paragraph, edge, "single")

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

    def blank(self, container, height_pt: float) -> None:
        """An empty paragraph exactly ``height_pt`` high: the room left for a signature stamp."""
        paragraph = container.add_paragraph()
        fmt = paragraph.paragraph_format
        fmt.space_before, fmt.space_after = Pt(0), Pt(0)
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(height_pt)

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
        """Lines of text in a cell (the lines of :attr:`italic_lines` in italics)."""
        for i, line in enumerate(value.split("\n") if value else [""]):
            paragraph = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
            self._cell_paragraph(paragraph, align)
            if line:
                self.run(paragraph, line, bold=bold, italic=line in self.italic_lines, size=size)

    @staticmethod
    def _cell_paragraph(paragraph, align: str, *, before: float = 1) -> None:
        paragraph.alignment = _ALIGN[align]
        fmt = paragraph.paragraph_format
        fmt.space_before, fmt.space_after = Pt(before), Pt(1)
        fmt.line_spacing = 1.0

    def national_header(self, header: HeaderLike, *, draft: bool | str = False, secrecy: str = "",
                        columns_mm: tuple[float, float] = HEADER_COLUMNS_MM) -> None:
        """D18: the parent organ (if any), the organ and the number on the left, with the secrecy
        stamp (D14) and a draft mark under them; the national title, the motto and the place-and-date
        line on the right. ``draft``: ``True`` for "DỰ THẢO (bản xem trước)", or the mark's text."""
        left, right = self.table(columns_mm, rows=1, ruled=False).rows[0].cells
        parent = getattr(header, "parent_organ", "")
        organ = left.paragraphs[0]
        self._cell_paragraph(organ, "center", before=0)
        if parent:
            self.run(organ, parent, size=13)
            organ = self.paragraph(container=left, align="center", after=0, single=True)
        self.run(organ, header.organ, bold=True, size=13)
        self.short_rule(left, 20, columns_mm[0], before=2)
        self.paragraph(header.number_line, container=left, align="center", size=13, before=6, after=0,
                       single=True)
        if secrecy:
            stamp = self.paragraph(secrecy.upper(), container=left, align="center", bold=True, size=13,
                                   before=8, after=0, single=True)
            side = max((columns_mm[0] - 8 - 3.2 * len(secrecy)) / 2, 0)  # ~3.2 mm a capital at 13 pt
            stamp.paragraph_format.left_indent = stamp.paragraph_format.right_indent = Mm(side)
            self.boxed(stamp)
        if draft:
            mark = draft if isinstance(draft, str) else "DỰ THẢO (bản xem trước)"
            self.paragraph(mark, container=left, align="center", bold=True, size=12, before=8, after=0)
        title = right.paragraphs[0]
        self._cell_paragraph(title, "center", before=0)
        self.run(title, NATIONAL_TITLE, bold=True, size=12.5)
        motto = self.paragraph(container=right, align="center", after=0, single=True)
        self.run(motto, NATIONAL_MOTTO, bold=True, size=13.5, underline=True)
        if header.date_line:
            self.paragraph(header.date_line, container=right, align="center", italic=True, size=14,
                           before=8, after=0, single=True)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()
