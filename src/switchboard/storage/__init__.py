"""The only code that speaks SQL: the engine, migrations, API keys, teams and the usage ledger."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.storage.engine import make_engine
from switchboard.storage.keys import KeyStore
from switchboard.storage.ledger import GROUPS, Ledger, UsageFilter
from switchboard.storage.teams import TeamStore

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# The newest migration. A database already there needs no Alembic at all: it is imported (12 MiB
# of a gateway's memory) only when there is something to migrate. A test checks this against
# the migrations directory.
HEAD_REVISION = "0007_response_objects"


def _alembic(connection: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option(
        "script_location", str(resources.files("switchboard.storage").joinpath("migrations"))
    )
    cfg.attributes["connection"] = connection
    return cfg


def describe(url: str) -> str:
    """Which database a URL names, for people: a SQLite file's full path, or the URL without
    its password."""
    where = make_url(url)
    if where.get_backend_name() == "sqlite" and where.database:
        return f"SQLite {Path(where.database).absolute()}"
    return where.render_as_string(hide_password=True)


class Storage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = make_engine(url)
        self.keys = KeyStore(self.engine)
        self.teams = TeamStore(self.engine)
        self.ledger = Ledger(self.engine)

    async def upgrade(self) -> None:
        """Apply every migration not yet applied (idempotent; safe from several processes on
        PostgreSQL, where the DDL runs in one transaction)."""
        where = make_url(self.url)
        if where.get_backend_name() == "sqlite" and where.database not in (None, "", ":memory:"):
            # The default database lives in a data directory that may not exist yet.
            Path(where.database).parent.mkdir(parents=True, exist_ok=True)
        if await self.revision() == HEAD_REVISION:
            return
        from alembic import command

        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Instances starting together must not race to create the same tables.
                await conn.execute(text("SELECT pg_advisory_xact_lock(7316002)"))
            await conn.run_sync(lambda c: command.upgrade(_alembic(c), "head"))

    async def revision(self) -> str | None:
        """The database's migration revision; None for a database with no tables yet."""
        async with self.engine.connect() as conn:
            try:
                found = await conn.execute(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:  # no such table: nothing was ever migrated
                return None
            return found.scalar_one_or_none()

    def describe(self) -> str:
        return describe(self.url)

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = ["GROUPS", "KeyStore", "Ledger", "Storage", "TeamStore", "UsageFilter", "describe"]
