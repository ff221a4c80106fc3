"""The Alembic migrations build exactly the schema the models describe, both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from cabinet.extensions import db
from cabinet.search import include_object


def schema_differences() -> list:
    with db.engine.connect() as conn:
        # include_object: the search index is raw SQL (FTS5 / tsvector), not in the models.
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, db.metadata)


def test_migrations_match_the_models(app):
    """A model change without its migration revision fails here."""
    assert schema_differences() == []


def test_migrations_downgrade_to_nothing_and_upgrade_again(app):
    db.session.remove()
    downgrade(revision="base")
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    assert {"users", "api_tokens", "audit_entries"} <= set(inspect(db.engine).get_table_names())
    assert schema_differences() == []
