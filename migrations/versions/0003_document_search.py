"""document search: a full-text index of documents kept by the database itself

Revision ID: 0003_document_search
Revises: 0002_meetings_documents
Create Date: 2026-11-24 09:00:00.000000

One row per document: its title and the text of its current version (the highest ``number``).
Triggers on ``documents`` and ``document_versions`` keep it right whatever code writes those
tables, so no application code ever has to "reindex".

- SQLite: an FTS5 table ``document_search`` (rowid = documents.id; columns title, body) with the
  ``unicode61 remove_diacritics 2`` tokenizer, which folds case and Latin diacritics, Vietnamese
  stacked ones included (also in decomposed NFD text). It does not fold "đ", which has no
  decomposition, so the triggers replace it first. ``document_search_instances`` (fts5vocab)
  lists the occurrences of each word, for ranking.
- PostgreSQL: a table ``document_search``: document_id; tsv, the title (weight A) and the text
  (weight D) under a GIN index; title_tsv, the title alone, to rank title matches first. The text
  is folded by ``cabinet_search_fold()`` (an IMMUTABLE SQL function: Vietnamese and Latin-1
  letters to ASCII, combining marks dropped, punctuation to spaces, lower case) and parsed with the
  'simple' configuration (no stemming: Vietnamese has none). No extension (unaccent) is needed.

The search code (cabinet/search.py) folds queries with the same table. Objects created here are
not in the models: Alembic's autogenerate must skip them (cabinet.search.include_object).

Caution for later migrations: on SQLite, a batch migration that rebuilds ``documents`` or
``document_versions`` fails ("error in trigger document_search_…: no such table: main.documents")
because these triggers name both tables. Drop the triggers first (as ``downgrade`` does) and
re-create them afterwards (copy the statements of this revision, as migrations are frozen);
tests/test_search.py checks that every one of them exists at head.
"""
# The SQL below is assembled from this file's constants only, never from input.
# ruff: noqa: S608
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003_document_search'
down_revision = '0002_meetings_documents'
branch_labels = None
depends_on = None


# Frozen copy of the fold table (cabinet/search.py has the query side; a test compares them).
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
# Combining marks of those letters in decomposed (NFD) text: dropped.
COMBINING_MARKS = "\u0300\u0301\u0302\u0303\u0306\u0308\u0309\u030a\u031b\u0323\u0327"
# ASCII punctuation and common typographic marks become spaces before PostgreSQL's parser sees
# the text, so "covid-19", "3.5" or "123/2024/NĐ-CP" are split into words as FTS5 splits them.
PG_PUNCTUATION_RE = "[!-/:-@[-`{-~\u00a0\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u2022\u00b7\u00ab\u00bb\u2039\u203a]+"
# Only the first million characters of a version's text are indexed (on both databases).
MAX_INDEXED_CHARS = 1_000_000


def _fold_pairs() -> tuple[str, str]:
    source, target = "", ""
    for ascii_letter, letters in FOLD.items():
        for letter in letters + letters.upper():
            source += letter
            target += ascii_letter
    return source, target


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- PostgreSQL -----------------------------------------------------------------------------

def _pg_statements() -> list[str]:
    source, target = _fold_pairs()
    return [
        f"""
        CREATE FUNCTION cabinet_search_fold(value text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$
            SELECT lower(regexp_replace(
                translate(value, {_sql_string(source + COMBINING_MARKS)}, {_sql_string(target)}),
                {_sql_string(PG_PUNCTUATION_RE)}, ' ', 'g'))
        $$
        """,
        """
        CREATE TABLE document_search (
            document_id integer NOT NULL
                CONSTRAINT pk_document_search PRIMARY KEY
                CONSTRAINT fk_document_search_document_id_documents
                REFERENCES documents (id) ON DELETE CASCADE,
            title_tsv tsvector NOT NULL,
            tsv tsvector NOT NULL
        )
        """,
        "CREATE INDEX ix_document_search_tsv ON document_search USING gin (tsv)",
        f"""
        CREATE FUNCTION document_search_refresh(doc integer) RETURNS void
            LANGUAGE plpgsql
        AS $$
        DECLARE
            doc_title text;
            body text;
            title_vector tsvector;
            vector tsvector;
        BEGIN
            SELECT d.title INTO doc_title FROM documents d WHERE d.id = doc;
            IF NOT FOUND THEN
                DELETE FROM document_search WHERE document_id = doc;
                RETURN;
            END IF;
            SELECT left(v.text_content, {MAX_INDEXED_CHARS}) INTO body
                FROM document_versions v WHERE v.document_id = doc
                ORDER BY v.number DESC LIMIT 1;
            title_vector := to_tsvector('pg_catalog.simple', cabinet_search_fold(doc_title));
            BEGIN
                vector := setweight(title_vector, 'A')
                    || to_tsvector('pg_catalog.simple', cabinet_search_fold(coalesce(body, '')));
            EXCEPTION WHEN program_limit_exceeded THEN
                -- More distinct words than one tsvector holds (1 MB): index the beginning rather
                -- than refuse the upload.
                vector := setweight(title_vector, 'A')
                    || to_tsvector('pg_catalog.simple', cabinet_search_fold(left(coalesce(body, ''), 100000)));
            END;
            INSERT INTO document_search (document_id, title_tsv, tsv) VALUES (doc, title_vector, vector)
                ON CONFLICT (document_id) DO UPDATE SET title_tsv = EXCLUDED.title_tsv, tsv = EXCLUDED.tsv;
        END
        $$
        """,
        """
        CREATE FUNCTION document_search_on_document() RETURNS trigger
            LANGUAGE plpgsql
        AS $$
        BEGIN
            PERFORM document_search_refresh(NEW.id);
            RETURN NULL;
        END
        $$
        """,
        # A deleted document leaves the index through the foreign key's ON DELETE CASCADE.
        """
        CREATE TRIGGER document_search_on_document AFTER INSERT OR UPDATE OF title ON documents
            FOR EACH ROW EXECUTE FUNCTION document_search_on_document()
        """,
        """
        CREATE FUNCTION document_search_on_version() RETURNS trigger
            LANGUAGE plpgsql
        AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                PERFORM document_search_refresh(OLD.document_id);
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.document_id <> OLD.document_id) THEN
                PERFORM document_search_refresh(NEW.document_id);
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER document_search_on_version
            AFTER INSERT OR DELETE OR UPDATE OF document_id, number, text_content ON document_versions
            FOR EACH ROW EXECUTE FUNCTION document_search_on_version()
        """,
        "SELECT document_search_refresh(id) FROM documents",
    ]


PG_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS document_search_on_version ON document_versions",
    "DROP TRIGGER IF EXISTS document_search_on_document ON documents",
    "DROP FUNCTION IF EXISTS document_search_on_version()",
    "DROP FUNCTION IF EXISTS document_search_on_document()",
    "DROP FUNCTION IF EXISTS document_search_refresh(integer)",
    "DROP TABLE IF EXISTS document_search",
    "DROP FUNCTION IF EXISTS cabinet_search_fold(text)",
]


# --- SQLite ---------------------------------------------------------------------------------

def _sqlite_fold(expression: str) -> str:
    # The tokenizer folds everything but "đ"/"Đ" (no Unicode decomposition).
    return f"replace(replace({expression}, 'đ', 'd'), 'Đ', 'd')"


# The text of document d's current version (the highest number), or ''.
SQLITE_CURRENT_TEXT = (
    f"coalesce((SELECT substr(v.text_content, 1, {MAX_INDEXED_CHARS}) FROM document_versions v"
    " WHERE v.document_id = d.id ORDER BY v.number DESC LIMIT 1), '')")


def _sqlite_refresh(document_id: str) -> str:
    """Statements that rebuild one document's row (or leave none if the document is gone)."""
    return (
        f"DELETE FROM document_search WHERE rowid = {document_id};\n"
        f"INSERT INTO document_search (rowid, title, body)\n"
        f"    SELECT d.id, {_sqlite_fold('d.title')}, {_sqlite_fold(SQLITE_CURRENT_TEXT)}\n"
        f"    FROM documents d WHERE d.id = {document_id};"
    )


SQLITE_TRIGGERS = {
    "document_search_document_insert": "AFTER INSERT ON documents",
    "document_search_document_title": "AFTER UPDATE OF title ON documents",
    "document_search_document_delete": "AFTER DELETE ON documents",
    "document_search_version_insert": "AFTER INSERT ON document_versions",
    "document_search_version_update": "AFTER UPDATE OF document_id, number, text_content ON document_versions",
    "document_search_version_moved": (
        "AFTER UPDATE OF document_id ON document_versions WHEN OLD.document_id <> NEW.document_id"),
    "document_search_version_delete": "AFTER DELETE ON document_versions",
}


def _sqlite_statements() -> list[str]:
    bodies = {
        "document_search_document_insert": _sqlite_refresh("NEW.id"),
        "document_search_document_title": _sqlite_refresh("NEW.id"),
        "document_search_document_delete": "DELETE FROM document_search WHERE rowid = OLD.id;",
        "document_search_version_insert": _sqlite_refresh("NEW.document_id"),
        "document_search_version_update": _sqlite_refresh("NEW.document_id"),
        "document_search_version_moved": _sqlite_refresh("OLD.document_id"),
        "document_search_version_delete": _sqlite_refresh("OLD.document_id"),
    }
    statements = [
        "CREATE VIRTUAL TABLE document_search USING fts5("
        "title, body, tokenize = 'unicode61 remove_diacritics 2')",
        # Every (term, document, column, offset) of the index, to rank a document by its own
        # occurrences: bm25() would mix in statistics of documents the user may not see.
        "CREATE VIRTUAL TABLE document_search_instances USING fts5vocab(document_search, instance)",
    ]
    for name, when in SQLITE_TRIGGERS.items():
        statements.append(f"CREATE TRIGGER {name} {when}\nBEGIN\n{bodies[name]}\nEND")
    statements.append(  # the documents already there
        "INSERT INTO document_search (rowid, title, body)"
        f" SELECT d.id, {_sqlite_fold('d.title')}, {_sqlite_fold(SQLITE_CURRENT_TEXT)} FROM documents d")
    return statements


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in _pg_statements():
            op.execute(statement)
    else:
        for statement in _sqlite_statements():
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DOWNGRADE:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS document_search_instances")
        op.execute("DROP TABLE IF EXISTS document_search")  # and its shadow tables
