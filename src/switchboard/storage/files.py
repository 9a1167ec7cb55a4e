"""Files in the database: the OpenAI Batch API's uploaded input files and the output and error
files of its ended batches, each owned by the key that made it. A batch's output files are
written with it in one transaction (BatchStore.set_files), and deleted with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from switchboard.storage.keys import utc
from switchboard.storage.tables import files


@dataclass(frozen=True, slots=True)
class FileRow:
    id: str
    key_id: str
    purpose: str
    filename: str
    bytes: int
    created_at: datetime
    batch_id: str | None
    part: str | None


class FileStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, row: FileRow, content: bytes | None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(files).values(**file_values(row), content=content))

    async def get(self, file_id: str, key_id: str) -> FileRow | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        files.c.id,
                        files.c.key_id,
                        files.c.purpose,
                        files.c.filename,
                        files.c.bytes,
                        files.c.created_at,
                        files.c.batch_id,
                        files.c.part,
                    ).where(files.c.id == file_id, files.c.key_id == key_id)
                )
            ).first()
        if row is None:
            return None
        m = row._mapping
        created_at = utc(m["created_at"])
        assert created_at is not None
        return FileRow(
            m["id"],
            m["key_id"],
            m["purpose"],
            m["filename"],
            m["bytes"],
            created_at,
            m["batch_id"],
            m["part"],
        )

    async def content(self, file_id: str) -> bytes | None:
        async with self._engine.connect() as conn:
            found = await conn.execute(select(files.c.content).where(files.c.id == file_id))
            content: bytes | None = found.scalar_one_or_none()
            return content


def file_values(row: FileRow) -> dict[str, object]:
    """The columns of a file's row (its content aside)."""
    return {
        "id": row.id,
        "key_id": row.key_id,
        "purpose": row.purpose,
        "filename": row.filename,
        "bytes": row.bytes,
        "created_at": row.created_at,
        "batch_id": row.batch_id,
        "part": row.part,
    }
