"""The only code that speaks SQL: the engine, migrations, API keys and the usage ledger."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.storage.engine import make_engine
from switchboard.storage.keys import KeyStore
from switchboard.storage.ledger import GROUPS, Ledger, UsageFilter


def _alembic(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option(
        "script_location", str(resources.files("switchboard.storage").joinpath("migrations"))
    )
    cfg.attributes["connection"] = connection
    return cfg


class Storage:
    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = make_engine(url)
        self.keys = KeyStore(self.engine)
        self.ledger = Ledger(self.engine)

    async def upgrade(self) -> None:
        """Apply every migration not yet applied (idempotent; safe from several processes on
        PostgreSQL, where the DDL runs in one transaction)."""
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Instances starting together must not race to create the same tables.
                await conn.execute(text("SELECT pg_advisory_xact_lock(7316002)"))
            await conn.run_sync(lambda c: command.upgrade(_alembic(c), "head"))

    async def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = ["GROUPS", "KeyStore", "Ledger", "Storage", "UsageFilter"]
