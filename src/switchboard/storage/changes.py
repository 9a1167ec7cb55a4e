"""Hearing about key changes from the database itself, on a connection of its own (so the pool
and the hot path never wait for it): PostgreSQL `LISTEN`, or SQLite's header counters polled.
Each calls `changed()` when a key changed anywhere, and on every (re)connection, since changes
may have gone unheard in between; `untrusted()` while it cannot hear."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import Any, Protocol

import aiosqlite
from sqlalchemy.engine import make_url

from switchboard.log import events as log
from switchboard.storage.keys import CHANNEL

POLL_SECONDS = 0.25  # SQLite: how often the counters are read, well inside the 1 s promise
PING_SECONDS = 5.0  # PostgreSQL: how often the listening connection proves it is alive
RETRY_SECONDS = 1.0
LISTENER_NAME = "switchboard-key-changes"  # how operators (and tests) find it in pg_stat_activity


class Listener(Protocol):
    def changed(self) -> None: ...

    def untrusted(self) -> None: ...


class SqliteChanges:
    """`PRAGMA data_version` moves when another connection commits anything (the ledger too),
    so it only says when to read `user_version`, which moves only with a key change."""

    def __init__(self, url: str) -> None:
        self._path = make_url(url).database or ""

    async def publish(self) -> None:
        """Nothing to do: the change's own transaction bumped the counter."""

    async def close(self) -> None:
        """`watch` closes its own connection when it is cancelled."""

    async def watch(self, listener: Listener) -> None:
        while True:
            try:
                async with aiosqlite.connect(self._path, timeout=5) as db:
                    await self._poll(db, listener)
            except (sqlite3.Error, OSError) as exc:
                listener.untrusted()
                log.warning("cannot watch the key database for changes: %s", exc)
            await asyncio.sleep(RETRY_SECONDS)

    async def _poll(self, db: aiosqlite.Connection, listener: Listener) -> None:
        seen = (await _pragma(db, "data_version"), await _pragma(db, "user_version"))
        listener.changed()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            data = await _pragma(db, "data_version")
            if data == seen[0]:
                continue
            keys = await _pragma(db, "user_version")
            if keys != seen[1]:
                listener.changed()
            seen = (data, keys)


async def _pragma(db: aiosqlite.Connection, name: str) -> int:
    async with db.execute(f"PRAGMA {name}") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


class PostgresChanges:
    """LISTEN on a connection outside the pool, reconnected when it fails or stops answering."""

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)

    async def publish(self) -> None:
        """Nothing to do: the change's own transaction sent the NOTIFY."""

    async def close(self) -> None:
        """`watch` closes its own connection when it is cancelled."""

    async def watch(self, listener: Listener) -> None:
        # Imported here: a gateway on SQLite does not carry asyncpg (5 MiB).
        import asyncpg  # type: ignore[import-untyped]  # no stubs are published with it

        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": LISTENER_NAME}
                )
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                listener.untrusted()
                log.warning("cannot listen for key changes: %s", type(exc).__name__)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            try:
                await self._listen(conn, listener)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                log.warning("lost the key-change listener: %s", type(exc).__name__)
            finally:
                conn.terminate()
            listener.untrusted()  # until the next connection, changes may go unheard
            await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self, conn: Any, listener: Listener) -> None:
        def notified(*_: Any) -> None:
            listener.changed()

        await conn.add_listener(CHANNEL, notified)
        listener.changed()
        # A connection the server closes ends the wait at once, not at the next ping.
        closed = asyncio.Event()
        conn.add_termination_listener(lambda *_: closed.set())
        while not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), PING_SECONDS)
                return
            await asyncio.wait_for(conn.execute("SELECT 1"), PING_SECONDS)
