"""Stored responses for `previous_response_id`: the conversation's items by response id, read
back only by the key that made them, until they expire. Expired rows are deleted as new ones
are written (one indexed DELETE), so the table holds no more than the retention's worth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.storage.tables import responses


class ResponseStore:
    def __init__(self, engine: AsyncEngine, retention_days: float) -> None:
        self._engine = engine
        self._retention = timedelta(days=retention_days)

    async def save(self, response_id: str, key_id: str, items: list[Any]) -> None:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(delete(responses).where(responses.c.expires_at < now))
            await conn.execute(
                insert(responses).values(
                    id=response_id,
                    key_id=key_id,
                    created_at=now,
                    expires_at=now + self._retention,
                    conversation=orjson.dumps(items).decode(),
                )
            )

    async def load(self, response_id: str, key_id: str) -> list[Any] | None:
        """The items of a response this key made and that has not expired; else None."""
        query = select(responses.c.conversation, responses.c.expires_at).where(
            responses.c.id == response_id, responses.c.key_id == key_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        expires = row.expires_at
        if expires.tzinfo is None:  # SQLite gives datetimes back without their zone
            expires = expires.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            return None
        items: list[Any] = orjson.loads(row.conversation)
        return items
