"""The migrations make exactly the schema the code queries (storage/tables.py), on SQLite and
PostgreSQL: a column, index or table added to one and not the other is caught here."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from switchboard.storage import Storage
from switchboard.storage.tables import metadata
from tests.tenancy.test_storage import run


def _compare(conn: Connection) -> tuple[list[Any], dict[str, str]]:
    diff = list(compare_metadata(MigrationContext.configure(conn), metadata))
    dialect = conn.dialect.name
    where = {
        str(ix["name"]): str(ix.get("dialect_options", {}).get(f"{dialect}_where", ""))
        for ix in inspect(conn).get_indexes("usage")
    }
    return diff, where


def test_migrations_make_the_schema_the_code_queries(database_url: str) -> None:
    async def work(s: Storage) -> tuple[list[Any], dict[str, str]]:
        async with s.engine.connect() as conn:
            return await conn.run_sync(_compare)

    diff, where = run(database_url, work)
    assert diff == []
    # Partial (migration 0006): the rows without a session or a team are not indexed.
    assert "session IS NOT NULL" in where["ix_usage_session"]
    assert "team_id IS NOT NULL" in where["ix_usage_team_at"]
    assert where["ix_usage_at"] == ""
