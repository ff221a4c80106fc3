"""Search: documents by title and text, across the meetings the user may see.

The index is the database's own (migration 0003): an FTS5 table on SQLite, a ``tsvector`` with a
GIN index on PostgreSQL, both kept by triggers on ``documents`` and ``document_versions``. It holds
each document's title and the text of its current version, so a hit is a document, once.

Matching ignores case and diacritics the same way on both databases: "ngân sách", "Ngân Sách"
and "ngan sach" all find "NGÂN SÁCH" (members on tablets often type without diacritics, and the
two spellings of tones, "hoà"/"hòa", both occur in official texts). Every word typed must occur
in the title or the text; a document whose title has them all comes first.

What the user may not see is filtered out in SQL, before the limit and before any snippet is
made: the same rules as ``cabinet.meetings.access`` (invited, or an approved deputy, or staff;
cleared for the secrecy level; published, drafts and recalled documents for staff only; the
meeting not cancelled, unless staff).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import aliased, contains_eager

from cabinet.documents.models import Document, DocumentStatus, DocumentVersion
from cabinet.extensions import db
from cabinet.meetings.access import is_staff
from cabinet.meetings.models import DeputyStatus, Meeting, MeetingStatus, Participant
from cabinet.users.models import Clearance, User

MAX_QUERY_CHARS = 200  # longer input is cut: nobody types more, and each word costs a lookup
MAX_TERMS = 12
MAX_LIMIT = 200
SNIPPET_CHARS = 240
# Same cap as the index (migration 0003): text beyond it is neither found nor shown.
MAX_INDEXED_CHARS = 1_000_000
TITLE_WEIGHT = 10.0  # against 1.0 for the text; PostgreSQL's default weights A/D give the same

# The fold applied to queries; migration 0003 holds the frozen copy the index uses.
FOLD = {
    "a": "àáảãạăằắẳẵặâầấẩẫậäå",
    "c": "ç",
    "d": "đ",
    "e": "èéẻẽẹêềếểễệë",
    "i": "ìíỉĩịîï",
    "n": "ñ",
    "o": "òóỏõọôồốổỗộơờớởỡợö",
    "u": "ùúủũụưừứửữựûü",
    "y": "ỳýỷỹỵÿ",
}
COMBINING_MARKS = "\u0300\u0301\u0302\u0303\u0306\u0308\u0309\u030a\u031b\u0323\u0327"

_FOLD_TABLE = str.maketrans(
    {letter: ascii_letter for ascii_letter, letters in FOLD.items() for letter in letters + letters.upper()}
    | {mark: None for mark in COMBINING_MARKS})
_WORD = re.compile(r"[^\W_]+")
# Highlighting works on the original text: each ASCII letter of a folded term stands for itself
# and every letter that folds to it, each possibly followed by combining marks (NFD text).
_LETTER_CLASSES = {ascii_letter: f"[{ascii_letter}{letters}]" for ascii_letter, letters in FOLD.items()}
_MARKS = "[\u0300-\u036f]*"

# The tables made by migration 0003, which Alembic's autogenerate must leave alone: on SQLite the
# FTS5 table and its shadow tables, on PostgreSQL the table (its index and triggers go with it).
SEARCH_TABLES = frozenset({
    "document_search", "document_search_data", "document_search_idx", "document_search_content",
    "document_search_docsize", "document_search_config", "document_search_instances",
})

_fts = sa.table("document_search", sa.column("rowid", sa.Integer))
_fts_instances = sa.table("document_search_instances", sa.column("term", sa.String),
                          sa.column("doc", sa.Integer), sa.column("col", sa.String))
_fts_name = sa.literal_column("document_search")
_pg_index = sa.table("document_search", sa.column("document_id", sa.Integer),
                     sa.column("title_tsv", TSVECTOR), sa.column("tsv", TSVECTOR))


@dataclass(frozen=True)
class SearchHit:
    """One document found: ``snippet`` and ``title_html`` are escaped HTML with <mark> on matches.

    ``rank`` is higher for better hits (1 or more when the title has every word); it only
    compares hits of one search.
    """

    document: Document
    meeting: Meeting
    snippet: Markup
    title_html: Markup
    rank: float


def fold(text: str) -> str:
    """Lower case, Vietnamese (and Latin-1) letters without diacritics: what the index holds."""
    return text.translate(_FOLD_TABLE).lower()


def search_terms(query: str | None) -> list[str]:
    """The words of a query, folded, each once, in order; punctuation and operators are ignored.

    Search syntax (quotes, ``*``, ``NEAR``, ``OR``, parentheses, ``:``…) is not special: only
    letters and digits reach the database, so no input can make a query fail.
    """
    if not query:
        return []
    terms: list[str] = []
    for word in _WORD.findall(fold(query[:MAX_QUERY_CHARS])):
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def search_documents(user: User, query: str, *, limit: int = 50) -> list[SearchHit]:
    """Documents whose title or current text holds every word of ``query``, best first.

    Only documents ``user`` may open are considered at all (filtered in SQL before the limit),
    so neither a hit nor a snippet can reveal anything else. Empty or punctuation-only queries
    find nothing.
    """
    terms = search_terms(query)
    if not terms or limit <= 0 or getattr(user, "id", None) is None:
        return []
    limit = min(limit, MAX_LIMIT)

    if db.session.get_bind().dialect.name == "postgresql":
        matched = _postgres_matches(terms)
    else:
        matched = _sqlite_matches(terms)

    document = aliased(Document)
    meeting = aliased(Meeting)
    rank = (sa.case((matched.c.title_match, 1.0), else_=0.0) + matched.c.relevance).label("rank")
    top = (
        sa.select(document.id.label("document_id"), rank)
        .join(matched, matched.c.document_id == document.id)
        .join(meeting, meeting.id == document.meeting_id)
        .where(*_visible(user, document, meeting))
        .order_by(rank.desc(), document.id.desc())
        .limit(limit)
        .subquery("top")
    )
    current_text = (
        sa.select(sa.func.substr(DocumentVersion.text_content, 1, MAX_INDEXED_CHARS))
        .where(DocumentVersion.document_id == top.c.document_id)
        .order_by(DocumentVersion.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    # One statement, so the hits and their texts come from the same snapshot as the filter.
    rows = db.session.execute(
        sa.select(Document, top.c.rank, current_text)
        .join(top, top.c.document_id == Document.id)
        .join(Document.meeting)
        .options(contains_eager(Document.meeting))
        .order_by(top.c.rank.desc(), Document.id.desc())
    ).all()

    pattern = _highlight_pattern(terms)
    return [
        SearchHit(document=doc, meeting=doc.meeting, snippet=_snippet(text or "", pattern),
                  title_html=_highlight(doc.title, pattern), rank=float(rank_value))
        for doc, rank_value, text in rows
    ]


def include_object(object, name, type_, reflected, compare_to) -> bool:
    """Alembic hook: leave the search index (made by raw SQL in migration 0003) out of autogenerate."""
    return not (type_ == "table" and name in SEARCH_TABLES)


# --- the two indexes ------------------------------------------------------------------------


def _sqlite_matches(terms: list[str]) -> sa.Subquery:
    """FTS5: each term quoted, so it is a plain word to FTS5 whatever it spells.

    Relevance counts the document's own occurrences of the terms (title ones ``TITLE_WEIGHT``
    times), not bm25(): its word statistics span the whole index, so scores would move with
    documents the user may not see, and tell something about them.
    """
    words = " ".join(f'"{term}"' for term in terms)
    title_hits = sa.select(_fts.c.rowid).where(_fts_name.op("MATCH")(f"title : ({words})"))
    # One row per matching document (hit = 1) and one per occurrence of a term (hit = 0), grouped
    # by document: no join, which SQLite would run as a nested scan.
    rows = sa.union_all(
        sa.select(_fts.c.rowid.label("document_id"), sa.literal(1).label("hit"),
                  sa.literal(0.0).label("weight"))
        .where(_fts_name.op("MATCH")(words)),
        sa.select(_fts_instances.c.doc, sa.literal(0),
                  sa.case((_fts_instances.c.col == "title", TITLE_WEIGHT), else_=1.0))
        .where(_fts_instances.c.term.in_(terms)),
    ).subquery("occurrences")
    weight = sa.func.sum(rows.c.weight)
    return (
        sa.select(
            rows.c.document_id,
            (weight / (1.0 + weight)).label("relevance"),  # in [0, 1), like ts_rank(..., 32)
            rows.c.document_id.in_(title_hits).label("title_match"),
        )
        .group_by(rows.c.document_id)
        .having(sa.func.max(rows.c.hit) == 1)
        .subquery("matched")
    )


def _postgres_matches(terms: list[str]) -> sa.Subquery:
    """tsvector: plainto_tsquery() reads the terms as plain words joined by AND."""
    query = sa.select(
        sa.func.plainto_tsquery(sa.literal_column("'pg_catalog.simple'::regconfig"), " ".join(terms))
        .label("q")
    ).subquery("search_query")
    return (
        sa.select(
            _pg_index.c.document_id.label("document_id"),
            # The document's own lexemes only; normalisation 32: rank / (rank + 1), in [0, 1).
            sa.func.ts_rank(_pg_index.c.tsv, query.c.q, 32).label("relevance"),
            _pg_index.c.title_tsv.op("@@")(query.c.q).label("title_match"),
        )
        .select_from(_pg_index)
        .join(query, sa.true())
        .where(_pg_index.c.tsv.op("@@")(query.c.q))
        .subquery("matched")
    )


# --- access, in SQL -------------------------------------------------------------------------


def _visible(user: User, document, meeting) -> list[sa.ColumnElement[bool]]:
    """The rules of cabinet.meetings.access, as SQL conditions on a document and its meeting."""
    cleared = [level.value for level in Clearance if user.clearance_enum.covers(level)]
    conditions: list[sa.ColumnElement[bool]] = [document.secrecy.in_(cleared)]
    if is_staff(user):
        return conditions
    invited = (
        sa.select(Participant.id)
        .where(Participant.meeting_id == meeting.id,
               sa.or_(Participant.user_id == user.id,
                      sa.and_(Participant.deputy_id == user.id,
                              Participant.deputy_status == DeputyStatus.APPROVED.value)))
        .exists()
    )
    conditions += [
        invited,
        document.status == DocumentStatus.PUBLISHED.value,
        meeting.status != MeetingStatus.CANCELLED.value,
    ]
    return conditions


# --- snippets -------------------------------------------------------------------------------


def _highlight_pattern(terms: list[str]) -> re.Pattern[str]:
    alternatives = [
        "".join(_LETTER_CLASSES.get(char, re.escape(char)) + _MARKS for char in term)
        for term in sorted(terms, key=len, reverse=True)
    ]
    return re.compile(r"(?<![^\W_])(?:" + "|".join(alternatives) + r")(?![^\W_])", re.IGNORECASE)


def _highlight(text: str, pattern: re.Pattern[str]) -> Markup:
    """``text`` escaped, with every match of ``pattern`` in <mark>."""
    pieces: list[Markup] = []
    position = 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[position:match.start()]))
        pieces.append(Markup("<mark>%s</mark>") % match.group())
        position = match.end()
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def _snippet(text: str, pattern: re.Pattern[str]) -> Markup:
    """A short passage of ``text`` around its first match (or its beginning), highlighted."""
    match = pattern.search(text)
    start = 0 if match is None else max(0, match.start() - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    # Cut at spaces, not inside a word (nor between a letter and its combining marks).
    if start > 0:
        space = text.find(" ", start, match.start() if match else end)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", match.end() if match and match.end() < end else start, end)
        end = space if space > start else end
    passage = " ".join(text[start:end].split())
    if not passage:
        return Markup("")
    return (Markup("… ") if start > 0 else Markup("")) + _highlight(passage, pattern) + (
        Markup(" …") if end < len(text) else Markup(""))
