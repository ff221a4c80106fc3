"""A per-viewer watermark on every page of a classified PDF (D14).

Each page served gets the secrecy stamp at the top, the viewer's name, organisation and the time
of viewing across the page (large, translucent, diagonal) and again in a footer line (small,
legible, and found by text extraction). The overlay is drawn by WeasyPrint with the vendored
Liberation Sans (every Vietnamese glyph), once per page size, and laid on the pages as a Form
XObject with pypdf:

* the original content streams are neither parsed nor re-encoded: each page's ``/Contents``
  becomes ``[q, <original streams…>, Q + draw overlay]``, so a 20 MB scan costs a fraction of a
  second, and the original drawing cannot leak its graphics state into the overlay;
* the whole file is rewritten (not an incremental update), so cutting the file at the previous
  ``%%EOF`` does not give back an unmarked copy;
* rotated pages (``/Rotate``) and crop boxes that do not start at 0,0 get the overlay upright in
  the visible area.
"""

from __future__ import annotations

import html
import io
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
)

FONT_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "fonts"
FONT_REGULAR = FONT_DIR / "LiberationSans-Regular.ttf"
FONT_BOLD = FONT_DIR / "LiberationSans-Bold.ttf"


@dataclass(frozen=True)
class Watermark:
    """What is printed on every page: the legal stamp and who viewed the document when."""

    stamp: str  # the secrecy stamp, e.g. "MẬT"
    viewer: str  # full name
    organisation: str
    moment: str  # local time of viewing, already formatted

    @property
    def line(self) -> str:
        parts = [self.stamp, self.viewer, self.organisation, self.moment]
        return " · ".join(unicodedata.normalize("NFC", p) for p in parts if p)

    @property
    def diagonal(self) -> str:
        parts = [self.viewer, self.organisation, self.moment]
        return " · ".join(unicodedata.normalize("NFC", p) for p in parts if p)


def _visible_size(page) -> tuple[float, float, tuple[float, float, float, float], int]:
    """Width and height as the reader sees the page, its visible box, and its rotation."""
    box = page.cropbox
    x0, y0, x1, y1 = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    rotate = int(page.get("/Rotate", 0) or 0) % 360
    rotate = rotate - rotate % 90
    width, height = x1 - x0, y1 - y0
    if rotate in (90, 270):
        width, height = height, width
    return round(width, 2), round(height, 2), (x0, y0, x1, y1), rotate


def _placement(box: tuple[float, float, float, float], rotate: int) -> list[float]:
    """The matrix taking overlay space (upright, origin bottom-left) to the page's user space."""
    x0, y0, x1, y1 = box
    if rotate == 90:
        return [0, 1, -1, 0, x1, y0]
    if rotate == 180:
        return [-1, 0, 0, -1, x1, y1]
    if rotate == 270:
        return [0, -1, 1, 0, x0, y1]
    return [1, 0, 0, 1, x0, y0]


def _overlay_html(sizes: list[tuple[float, float]], mark: Watermark) -> str:
    css = [
        f"@font-face {{ font-family: CabinetMark; src: url('{FONT_REGULAR.as_uri()}'); }}",
        f"@font-face {{ font-family: CabinetMark; font-weight: bold; src: url('{FONT_BOLD.as_uri()}'); }}",
        "html, body { margin: 0; padding: 0; font-family: CabinetMark; }",
        ".sheet { position: relative; overflow: hidden; }",
        ".stamp { position: absolute; top: 10pt; left: 0; right: 0; text-align: center; }",
        ".stamp span { display: inline-block; border: 1.5pt solid rgba(176, 0, 32, 0.85);"
        " color: rgba(176, 0, 32, 0.85); font-weight: bold; padding: 1pt 8pt; letter-spacing: 1pt;"
        " background: rgba(255, 255, 255, 0.6); }",
        ".diag { position: absolute; left: 50%; top: 50%; white-space: nowrap;"
        " color: rgba(176, 0, 32, 0.2); font-weight: bold; }",
        ".foot { position: absolute; left: 12pt; right: 12pt; bottom: 6pt; text-align: center;"
        " color: rgba(120, 0, 20, 0.9); background: rgba(255, 255, 255, 0.6); }",
    ]
    sheets = []
    diagonal = html.escape(mark.diagonal)
    for i, (width, height) in enumerate(sizes):
        # Big enough to cross the page, small enough to fit along its diagonal.
        length = math.hypot(width, height)
        angle = math.degrees(math.atan2(height, width))
        diag_size = max(8.0, min(44.0, 0.8 * length / (0.6 * max(len(mark.diagonal), 1))))
        small = max(5.0, min(8.0, width / 75))
        css.append(f"@page p{i} {{ size: {width}pt {height}pt; margin: 0; }}")
        css.append(f".s{i} {{ page: p{i}; width: {width}pt; height: {height}pt; }}")
        css.append(f".s{i} .diag {{ font-size: {diag_size:.1f}pt;"
                   f" transform: translate(-50%, -50%) rotate(-{angle:.2f}deg); }}")
        css.append(f".s{i} .foot {{ font-size: {small:.1f}pt; }}")
        css.append(f".s{i} .stamp {{ font-size: {small + 3:.1f}pt; }}")
        sheets.append(
            f'<div class="sheet s{i}">'
            f'<div class="stamp"><span>{html.escape(mark.stamp)}</span></div>'
            f'<div class="diag">{diagonal}</div>'
            f'<div class="foot">{html.escape(mark.line)}</div></div>'
        )
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{''.join(css)}</style></head>"
            f"<body>{''.join(sheets)}</body></html>")


def render_overlay(sizes: list[tuple[float, float]], mark: Watermark) -> bytes:
    """A PDF with one transparent page per size, carrying the watermark."""
    import weasyprint  # heavy: imported on first use only

    return weasyprint.HTML(string=_overlay_html(sizes, mark)).write_pdf()


def _form_xobject(writer: PdfWriter, overlay_page) -> IndirectObject:
    form = DecodedStreamObject()
    form.set_data(overlay_page.get_contents().get_data())
    form[NameObject("/Type")] = NameObject("/XObject")
    form[NameObject("/Subtype")] = NameObject("/Form")
    form[NameObject("/BBox")] = ArrayObject([FloatObject(float(v)) for v in overlay_page.mediabox])
    form[NameObject("/Resources")] = overlay_page["/Resources"].get_object().clone(writer)
    # Transparency (the translucent text) is drawn in its own group, as viewers expect.
    group = DictionaryObject({NameObject("/S"): NameObject("/Transparency")})
    form[NameObject("/Group")] = group
    return writer._add_object(form)


def _stream(writer: PdfWriter, data: bytes) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream)


def _inherited(page, key: str):
    node = page
    while node is not None:
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return None


def _free_name(xobjects: DictionaryObject) -> NameObject:
    name, n = "/CabinetMark", 0
    while name in xobjects:
        n += 1
        name = f"/CabinetMark{n}"
    return NameObject(name)


def watermark_pdf(source: Path | BinaryIO, out: BinaryIO, mark: Watermark) -> int:
    """Write ``source`` to ``out`` with ``mark`` on every page; returns the number of pages."""
    reader = PdfReader(source)
    writer = PdfWriter(clone_from=reader)
    pages = list(writer.pages)
    layout = [_visible_size(page) for page in pages]
    sizes: list[tuple[float, float]] = []
    for width, height, _box, _rotate in layout:
        if (width, height) not in sizes:
            sizes.append((width, height))
    overlay = PdfReader(io.BytesIO(render_overlay(sizes, mark)))
    forms = {size: _form_xobject(writer, overlay.pages[i]) for i, size in enumerate(sizes)}
    opening = _stream(writer, b"q\n")
    for page, (width, height, box, rotate) in zip(pages, layout, strict=True):
        resources = _inherited(page, "/Resources")
        resources = DictionaryObject(resources.get_object()) if resources is not None else DictionaryObject()
        xobjects = resources.get("/XObject")
        xobjects = DictionaryObject(xobjects.get_object()) if xobjects is not None else DictionaryObject()
        name = _free_name(xobjects)
        xobjects[name] = forms[(width, height)]
        resources[NameObject("/XObject")] = xobjects
        page[NameObject("/Resources")] = resources

        matrix = " ".join(f"{v:g}" for v in _placement(box, rotate))
        closing = _stream(writer, f"\nQ\nq {matrix} cm {name} Do Q\n".encode("ascii"))
        contents = ArrayObject([opening])
        original = page.get("/Contents")
        if original is not None:
            resolved = original.get_object()
            if isinstance(resolved, ArrayObject):
                contents.extend(resolved)
            else:
                contents.append(page.raw_get("/Contents"))
        contents.append(closing)
        page[NameObject("/Contents")] = contents
    writer.write(out)
    return len(pages)


def reader_mark(reader, stamp: str) -> Watermark:
    """The watermark for ``reader`` (a User) now: ``stamp``, their name and organisation, and the
    local time. One place for documents and minutes alike, so both read the same."""
    from cabinet.core.timeutil import utcnow
    from cabinet.i18n import local

    return Watermark(stamp=stamp, viewer=reader.full_name, organisation=reader.organisation or "",
                     moment=local(utcnow()).strftime("%H:%M:%S %d/%m/%Y"))


def watermark_bytes(data: bytes, mark: Watermark) -> bytes:
    """``data`` (a PDF held in memory, such as rendered minutes) with ``mark`` on every page."""
    out = io.BytesIO()
    watermark_pdf(io.BytesIO(data), out, mark)
    return out.getvalue()


def watermark_docx(data: bytes, mark: Watermark) -> bytes:
    """``data`` (a DOCX, such as exported minutes) with ``mark``'s line (stamp · viewer ·
    organisation · time) in the footer of every page, the first page's included.

    A DOCX is there to be edited: the line says whose copy it is and when it left the system, it
    cannot stop someone deleting it. The record that cannot be edited is the audit trail's
    ``minutes.exported`` entry, written for every export."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    document = docx.Document(io.BytesIO(data))
    for section in document.sections:
        footers = [section.footer]
        if section.different_first_page_header_footer:
            footers.append(section.first_page_footer)
        if document.settings.odd_and_even_pages_header_footer:
            footers.append(section.even_page_footer)
        for footer in footers:
            footer.is_linked_to_previous = False
            paragraph = footer.paragraphs[0] if footer.paragraphs and not footer.paragraphs[0].text \
                else footer.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = paragraph.add_run(mark.line)
            run.bold = True
            run.font.size = Pt(9)
            run.font.color.rgb = RGBColor(0xA5, 0x0E, 0x24)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
