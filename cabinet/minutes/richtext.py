"""The secretary's rich text in the minutes: cleaning it, and writing it into PDF and DOCX (D11).

The discussion summaries, the chair's conclusions and the opening and closing paragraphs are typed
in a small rich-text editor (or pasted from Word) and stored as HTML. That HTML ends up in a signed
legal document and on every member's screen, so it is reduced to a fixed, attribute-free set of
tags (:data:`ALLOWED_TAGS`) by nh3 (a binding of the Rust *ammonia* sanitiser, built on the html5ever
parser browsers agree with): no links, images, styles, classes, scripts or event handlers. What is
left is structure only — paragraphs, emphasis, lists, quotations, two heading levels — which the
PDF (through CSS) and the DOCX (:func:`add_html_to_docx`) can both render faithfully.

The HTML is sanitised when stored *and* again when rendered (defence in depth: a row written by an
older version, or by hand, cannot smuggle markup into a signed document).
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import nh3
from docx.shared import Mm

if TYPE_CHECKING:
    from cabinet.core.nd30 import _Docx

ALLOWED_TAGS = frozenset({"p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "blockquote",
                          "h3", "h4"})
# Removed with everything inside them (the other unknown tags are unwrapped: their text stays).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object", "embed",
                                  "svg", "math", "textarea", "select", "title", "head"})
# Block tags an editor or a paste from Word produces that we do not keep: renamed to the nearest kept
# block *before* sanitising, so that two <div>s stay two paragraphs instead of running into one.
_RENAMED_BLOCKS = {"div": "p", "section": "p", "article": "p", "header": "p", "footer": "p",
                   "address": "p", "pre": "p", "dd": "p", "dt": "p", "figcaption": "p",
                   "h1": "h3", "h2": "h3", "h5": "h4", "h6": "h4"}
_RENAMED_BLOCKS.update({"tr": "p", "caption": "p"})  # a pasted table: a paragraph per row …
_CELL_TAGS = ("td", "th")  # … its cells separated by a space, not run together
_BLOCK_TAG = re.compile(r"<(/?)(" + "|".join([*_RENAMED_BLOCKS, *_CELL_TAGS]) + r")\b[^>]*>",
                        re.IGNORECASE)

# An editor's blank line (``<p><br></p>``) or a div left empty: spacing comes from the layout instead.
_EMPTY_PARAGRAPH = re.compile(r"<p>(?:\s|&nbsp;|<br>)*</p>")


def _rename_block(match: re.Match) -> str:
    closing, tag = match.group(1), match.group(2).lower()
    if tag in _CELL_TAGS:
        return " " if closing else ""
    return f"<{closing}{_RENAMED_BLOCKS[tag]}>"

_INLINE_FORMAT = {"strong": "bold", "b": "bold", "em": "italic", "i": "italic", "u": "underline",
                  "s": "strike"}
LIST_INDENT_MM = 10.0  # per nesting level
HANG_MM = 7.0  # room for "1. " / "- " before the item's text
_PASSES = 4
ITEM_INDENT_MM = 12.7  # list items in indented body text start where a first line would
QUOTE_INDENT_MM = 12.7


def _nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def sanitise(html: str | None) -> str:
    """The HTML reduced to :data:`ALLOWED_TAGS` with no attribute at all, NFC-normalised; ``""``
    when nothing readable is left (``<p><br></p>``, whitespace, a lone ``<script>``)."""
    cleaned = _BLOCK_TAG.sub(_rename_block, _nfc(html))
    # Badly nested input (a heading inside a heading…) is repaired by the parser one level per pass:
    # clean until stable, so that sanitising what is stored gives back the same bytes.
    for _ in range(_PASSES):
        again = nh3.clean(cleaned, tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
                          attributes={}, strip_comments=True, link_rel=None)
        again = _EMPTY_PARAGRAPH.sub("", _nfc(again)).strip()
        if again == cleaned:
            break
        cleaned = again
    return cleaned if to_text(cleaned).strip() else ""


def is_blank(html: str | None) -> bool:
    """Whether the rich text says nothing (empty paragraphs, spaces and line breaks only)."""
    return not sanitise(html)


def plain_to_html(text: str | None) -> str:
    """Plain text (a textarea, a form without the editor) as rich text: a paragraph per non-empty
    line, escaped."""
    lines = (line.strip() for line in _nfc(text).splitlines())
    return "".join(f"<p>{html_lib.escape(line, quote=False)}</p>" for line in lines if line)


# --- walking the (already sanitised) HTML ---------------------------------------------------------------


class _Walker(HTMLParser):
    """A small event walker over sanitised HTML: whitespace collapsed as a browser would, text
    handed to :meth:`text` with the inline formats then open, blocks opened and closed through
    :meth:`start_block` / :meth:`end_block`. Subclasses decide what a paragraph is."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.formats: dict[str, int] = {"bold": 0, "italic": 0, "underline": 0, "strike": 0}
        self.lists: list[list] = []  # [tag, counter] per open list
        self.quotes = 0
        self.heading = 0

    # html.parser calls these
    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _INLINE_FORMAT:
            self.formats[_INLINE_FORMAT[tag]] += 1
        elif tag == "br":
            self.line_break()
        elif tag in ("ul", "ol"):
            self.end_paragraph()
            self.lists.append([tag, 0])
        elif tag == "li":
            self.end_paragraph()
            marker = "- "
            if self.lists:
                self.lists[-1][1] += 1
                if self.lists[-1][0] == "ol":
                    marker = f"{self.lists[-1][1]}. "
            self.start_item(marker, max(len(self.lists), 1))
        elif tag == "blockquote":
            self.end_paragraph()
            self.quotes += 1
        elif tag in ("h3", "h4"):
            self.end_paragraph()
            self.heading += 1
        elif tag == "p":
            self.start_paragraph()

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.line_break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _INLINE_FORMAT:
            self.formats[_INLINE_FORMAT[tag]] = max(self.formats[_INLINE_FORMAT[tag]] - 1, 0)
        elif tag in ("ul", "ol"):
            self.end_paragraph()
            if self.lists:
                self.lists.pop()
        elif tag == "blockquote":
            self.end_paragraph()
            self.quotes = max(self.quotes - 1, 0)
        elif tag in ("h3", "h4"):
            self.end_paragraph()
            self.heading = max(self.heading - 1, 0)
        elif tag in ("p", "li"):
            self.end_paragraph()

    def handle_data(self, data: str) -> None:
        text = re.sub(r"[ \t\r\n\f]+", " ", data)
        if text:
            self.text(text)

    # what subclasses implement
    def start_paragraph(self) -> None:
        """A ``<p>`` opens: a new paragraph unless the current one has no text yet (``<li><p>``)."""

    def start_item(self, marker: str, level: int) -> None:
        """A list item opens, numbered or bulleted."""

    def end_paragraph(self) -> None:
        """The current paragraph, if any, is finished."""

    def line_break(self) -> None:
        """A ``<br>`` inside the current paragraph."""

    def text(self, text: str) -> None:
        """Text, whitespace already collapsed to single spaces."""


class _TextWalker(_Walker):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.current: list[str] | None = None
        self.has_text = False

    def _open(self) -> None:
        if self.current is None:
            self.current, self.has_text = ["  " * self.quotes], False

    def start_paragraph(self) -> None:
        if self.has_text:
            self.end_paragraph()

    def start_item(self, marker: str, level: int) -> None:
        self.end_paragraph()
        self.current, self.has_text = ["  " * (self.quotes + level - 1) + marker], False

    def end_paragraph(self) -> None:
        if self.current is not None and self.has_text:
            self.lines.append("".join(self.current).rstrip())
        self.current, self.has_text = None, False

    def line_break(self) -> None:
        self._open()
        self.current.append("\n")

    def text(self, text: str) -> None:
        if self.current is None and not text.strip():
            return
        self._open()
        if not self.has_text or self.current[-1].endswith((" ", "\n")):
            text = text.lstrip(" ")
        if text:
            self.current.append(text)
            self.has_text = self.has_text or bool(text.strip())


def to_text(html: str | None) -> str:
    """The text of rich text, a line per paragraph or list item (items keep their ``- `` / ``1. ``):
    for search, notifications, and checking that a field is not blank. Not sanitised here: call it
    on sanitised HTML, or on anything when only the words matter."""
    walker = _TextWalker()
    walker.feed(_nfc(html))
    walker.close()
    walker.end_paragraph()
    return "\n".join(line.replace(" \n", "\n").replace("\n ", "\n") for line in walker.lines)


class _DocxWalker(_Walker):
    """Writes sanitised HTML as python-docx paragraphs through the NĐ30 :class:`_Docx` layer."""

    def __init__(self, doc: _Docx, container, *, size: float | None, indent: bool, italic: bool) -> None:
        super().__init__()
        self.doc = doc
        self.container = container
        self.size = size
        self.indent = indent
        self.italic = italic
        self.paragraph = None
        self.has_text = False
        self.count = 0

    def _new(self, *, item: tuple[str, int] | None = None) -> None:
        heading = self.heading > 0
        paragraph = self.doc.paragraph(container=self.container, indent=self.indent and item is None,
                                       keep_next=heading, before=6 if heading else 0)
        fmt = paragraph.paragraph_format
        left = QUOTE_INDENT_MM * self.quotes
        if item is not None:
            marker, level = item
            left += LIST_INDENT_MM * (level - 1) + (ITEM_INDENT_MM if self.indent else 0) + HANG_MM
            fmt.first_line_indent = Mm(-HANG_MM)
            self.doc.run(paragraph, marker, size=self.size, italic=self.italic)
        if left:
            fmt.left_indent = Mm(left)
        if self.quotes and item is None:
            fmt.first_line_indent = Mm(0)
        self.paragraph, self.has_text = paragraph, False
        self.count += 1

    def start_paragraph(self) -> None:
        if self.paragraph is not None and self.has_text:
            self.end_paragraph()

    def start_item(self, marker: str, level: int) -> None:
        self.end_paragraph()
        self._new(item=(marker, level))

    def end_paragraph(self) -> None:
        if self.paragraph is not None and self.has_text:
            runs = self.paragraph.runs
            if runs and runs[-1].text.endswith(" "):
                runs[-1].text = runs[-1].text.rstrip(" ")
        elif self.paragraph is not None and not self.has_text and not self.paragraph.runs:
            self.paragraph._p.getparent().remove(self.paragraph._p)  # an empty <p></p>
            self.count -= 1
        self.paragraph, self.has_text = None, False

    def line_break(self) -> None:
        if self.paragraph is None:
            self._new()
        self.paragraph.add_run().add_break()

    def text(self, text: str) -> None:
        if self.paragraph is None:
            if not text.strip():
                return
            self._new()
        runs = self.paragraph.runs
        if not self.has_text or (runs and runs[-1].text.endswith(" ")):
            text = text.lstrip(" ")  # collapsed whitespace: no space at a line's start, none doubled
        if not text:
            return
        self.doc.run(self.paragraph, text, bold=bool(self.formats["bold"] or self.heading),
                     italic=bool(self.formats["italic"]) != self.italic,
                     underline=bool(self.formats["underline"]), strike=bool(self.formats["strike"]),
                     size=self.size)
        self.has_text = True


def add_html_to_docx(doc: _Docx, html: str | None, *, container=None, size: float | None = None,
                     indent: bool = True, italic: bool = False) -> int:
    """Write rich text into a DOCX as paragraphs and return how many were written.

    Runs keep bold, italics, underline and strike-through; ``h3``/``h4`` become bold paragraphs kept
    with the next; list items are paragraphs starting with ``- `` or ``1. `` under a hanging indent
    (nested lists indent further; the numbers restart per list, as in the PDF, and show the same in
    Word and LibreOffice, which real Word numbering would not guarantee); quotations are indented.
    ``indent``: body paragraphs get NĐ30's 12.7 mm first-line indent. ``italic`` inverts the italics
    (a conclusion printed in italics shows its own emphasis upright). The HTML is sanitised first.
    """
    walker = _DocxWalker(doc, container, size=size, indent=indent, italic=italic)
    walker.feed(sanitise(html))
    walker.close()
    walker.end_paragraph()
    return walker.count
