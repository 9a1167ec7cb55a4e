"""Stored responses (`previous_response_id`) on SQLite and PostgreSQL, migrated by Alembic
(0005_responses): read back by the key that made them only, gone once expired, and expired
rows deleted as new ones are written."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from switchboard.storage import Storage
from switchboard.storage.responses import ResponseStore
from switchboard.storage.tables import responses

ITEMS: list[Any] = [{"type": "message", "role": "user", "content": "héllo"}]


def test_kept_per_key_until_expired(database_url: str) -> None:
    async def main() -> None:
        storage = Storage(database_url)
        try:
            await storage.upgrade()
            store = ResponseStore(storage.engine, retention_days=1)
            await store.save("resp_a", "key-1", ITEMS)
            assert await store.load("resp_a", "key-1") == ITEMS
            assert await store.load("resp_a", "key-2") is None  # another key
            assert await store.load("resp_b", "key-1") is None  # unknown

            brief = ResponseStore(storage.engine, retention_days=0.5 / 86400)  # half a second
            await brief.save("resp_short", "key-1", ITEMS)
            assert await brief.load("resp_short", "key-1") == ITEMS
            await asyncio.sleep(0.6)
            assert await brief.load("resp_short", "key-1") is None  # expired
            await store.save("resp_c", "key-1", ITEMS)  # writing deletes the expired row
            async with storage.engine.connect() as conn:
                ids = (await conn.execute(select(responses.c.id))).scalars().all()
                count = (await conn.execute(select(func.count()).select_from(responses))).scalar()
            assert sorted(ids) == ["resp_a", "resp_c"]
            assert count == 2
        finally:
            await storage.close()

    asyncio.run(main())
