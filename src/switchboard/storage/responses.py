"""Stored responses, for `previous_response_id` and `GET`/`DELETE /v1/responses/{id}`: the
conversation's items and the response object as it was served, by response id, read back (and
deleted) only by the key that made them, until they expire. Expired rows are deleted as new ones
are written (one indexed DELETE), so the table holds no more than the retention's worth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.storage.tables import responses


@dataclass(frozen=True, slots=True)
class StoredResponse:
    # Every item the model was given, then its output (the output comes last: the response
    # object's `output` says how many).
    conversation: list[Any]
    # The response object as it was served; None for a row stored before migration 0007.
    response: dict[str, Any] | None


class ResponseStore:
    def __init__(self, engine: AsyncEngine, retention_days: float) -> None:
        self._engine = engine
        self._retention = timedelta(days=retention_days)

    async def save(
        self, response_id: str, key_id: str, items: list[Any], response: dict[str, Any]
    ) -> None:
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
                    response=orjson.dumps(response).decode(),
                )
            )

    async def get(self, response_id: str, key_id: str) -> StoredResponse | None:
        """A response this key made and that has not expired; else None (whether another key
        made it is not told apart)."""
        row = await self._row(response_id, key_id, responses.c.conversation, responses.c.response)
        if row is None:
            return None
        response = None if row.response is None else orjson.loads(row.response)
        return StoredResponse(orjson.loads(row.conversation), response)

    async def load(self, response_id: str, key_id: str) -> list[Any] | None:
        """The items of a response this key made and that has not expired; else None (the
        response object is not read: `previous_response_id` needs only the items)."""
        row = await self._row(response_id, key_id, responses.c.conversation)
        if row is None:
            return None
        items: list[Any] = orjson.loads(row.conversation)
        return items

    async def _row(self, response_id: str, key_id: str, *columns: Any) -> Any:
        """`columns` of a response this key made and that has not expired; else None."""
        query = select(*columns, responses.c.expires_at).where(
            responses.c.id == response_id, responses.c.key_id == key_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        expires = row.expires_at
        if expires.tzinfo is None:  # SQLite gives datetimes back without their zone
            expires = expires.replace(tzinfo=UTC)
        return None if expires < datetime.now(UTC) else row

    async def delete(self, response_id: str, key_id: str) -> bool:
        """Deletes a response this key made and that has not expired; whether there was one."""
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(responses).where(
                    responses.c.id == response_id,
                    responses.c.key_id == key_id,
                    responses.c.expires_at >= now,
                )
            )
        return bool(gone.rowcount)
