"""Config database URLs -> async engines: `sqlite:///file` runs on aiosqlite with a rollback
journal and no memory-mapped file, `postgresql://...` on asyncpg with the session in UTC."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """The SQLAlchemy URL with the async driver the gateway uses for this database."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"database: unsupported URL scheme '{parsed.drivername}' "
            "(use sqlite:///path or postgresql://user@host/db)"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def make_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    if full.startswith("sqlite"):
        engine = create_async_engine(full, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            # No file is ever memory-mapped: WAL mode maps its `-shm` file, and when that file
            # is truncated or cannot be backed by the disk, touching the mapping kills the
            # process with SIGBUS (no exception, no row saved). A rollback journal reads and
            # writes with plain system calls, whose failures are errors the ledger writer
            # handles (usage rows go to its journal). Readers (the CLI) and the gateway's
            # batched ledger commits take turns, each waiting up to busy_timeout; synchronous
            # stays FULL, the setting that keeps a rollback journal safe on power loss.
            cur = conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA mmap_size=0")
            cur.execute("PRAGMA journal_mode=TRUNCATE")
            cur.close()

        return engine
    return create_async_engine(
        full,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {"timezone": "UTC", "application_name": "switchboard"},
            # A database that does not answer is down (rows go to the journal), not a minute
            # of waiting per attempt.
            "timeout": 10,
        },
    )
