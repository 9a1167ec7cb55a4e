"""Captured requests (capture/): one row per request, keyed by the ledger row's request id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.storage.tables import captures


class CaptureStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            async with self._engine.begin() as conn:
                await conn.execute(insert(captures), list(rows))

    async def get(self, request_id: str) -> dict[str, Any] | None:
        query = select(captures).where(captures.c.request_id == request_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else {str(k): v for k, v in row.items()}

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        names = ("request_id", "at", "key_id", "model", "status")
        query = select(*(captures.c[n] for n in names))
        query = query.order_by(captures.c.at.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def purge(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(captures).where(captures.c.at < before))
        return int(result.rowcount or 0)
