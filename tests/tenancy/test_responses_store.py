"""Stored responses (`previous_response_id`, `GET`/`DELETE /v1/responses/{id}`) on SQLite and
PostgreSQL, migrated by Alembic (0005_responses, 0007_response_objects): read back and deleted
by the key that made them only, gone once expired, and expired rows deleted as new ones are
written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, insert, select

from switchboard.storage import Storage
from switchboard.storage.responses import ResponseStore, StoredResponse
from switchboard.storage.tables import responses

ITEMS: list[Any] = [{"type": "message", "role": "user", "content": "héllo"}]
RESPONSE: dict[str, Any] = {"id": "resp_a", "object": "response", "output": [], "usage": None}


def test_kept_per_key_until_expired(database_url: str) -> None:
    async def main() -> None:
        storage = Storage(database_url)
        try:
            await storage.upgrade()
            store = ResponseStore(storage.engine, retention_days=1)
            await store.save("resp_a", "key-1", ITEMS, RESPONSE)
            assert await store.load("resp_a", "key-1") == ITEMS
            assert await store.load("resp_a", "key-2") is None  # another key
            assert await store.load("resp_b", "key-1") is None  # unknown
            assert await store.get("resp_a", "key-1") == StoredResponse(ITEMS, RESPONSE)
            assert await store.get("resp_a", "key-2") is None

            brief = ResponseStore(storage.engine, retention_days=0.5 / 86400)  # half a second
            await brief.save("resp_short", "key-1", ITEMS, RESPONSE)
            assert await brief.load("resp_short", "key-1") == ITEMS
            await asyncio.sleep(0.6)
            assert await brief.load("resp_short", "key-1") is None  # expired
            assert await brief.get("resp_short", "key-1") is None
            assert await brief.delete("resp_short", "key-1") is False  # expired: not there
            await store.save("resp_c", "key-1", ITEMS, RESPONSE)  # writing deletes the expired row
            async with storage.engine.connect() as conn:
                ids = (await conn.execute(select(responses.c.id))).scalars().all()
                count = (await conn.execute(select(func.count()).select_from(responses))).scalar()
            assert sorted(ids) == ["resp_a", "resp_c"]
            assert count == 2
        finally:
            await storage.close()

    asyncio.run(main())


def test_deleted_by_the_key_that_made_it(database_url: str) -> None:
    async def main() -> None:
        storage = Storage(database_url)
        try:
            await storage.upgrade()
            store = ResponseStore(storage.engine, retention_days=1)
            await store.save("resp_a", "key-1", ITEMS, RESPONSE)
            await store.save("resp_b", "key-1", ITEMS, RESPONSE)
            assert await store.delete("resp_a", "key-2") is False  # another key's
            assert await store.get("resp_a", "key-1") is not None  # still there
            assert await store.delete("resp_a", "key-1") is True
            assert await store.get("resp_a", "key-1") is None
            assert await store.load("resp_a", "key-1") is None  # gone for continuing too
            assert await store.delete("resp_a", "key-1") is False  # already gone
            assert await store.delete("resp_unknown", "key-1") is False
            assert await store.load("resp_b", "key-1") == ITEMS  # the other one stays
        finally:
            await storage.close()

    asyncio.run(main())


def test_rows_stored_before_0007_have_no_response_object(database_url: str) -> None:
    """A row written before the response object was kept: still continued, read as None."""

    async def main() -> None:
        storage = Storage(database_url)
        try:
            await storage.upgrade()
            now = datetime.now(UTC)
            async with storage.engine.begin() as conn:
                await conn.execute(
                    insert(responses).values(
                        id="resp_old",
                        key_id="key-1",
                        created_at=now,
                        expires_at=now + timedelta(days=1),
                        conversation=orjson.dumps(ITEMS).decode(),
                    )
                )
            store = ResponseStore(storage.engine, retention_days=1)
            assert await store.get("resp_old", "key-1") == StoredResponse(ITEMS, None)
            assert await store.load("resp_old", "key-1") == ITEMS
        finally:
            await storage.close()

    asyncio.run(main())
