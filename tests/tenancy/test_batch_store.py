"""The batch store's idle check: a worker with nothing open asks one query per pass, and it
must still see every batch that needs it (open ones, and ended ones of a files API that have
no files yet), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchboard.storage import Storage
from switchboard.storage.batches import BatchStore, NewRequest
from tests.tenancy.test_storage import run

FILES = ("openai",)  # the API whose results are files (OpenAI's Batch API)


def test_has_work_sees_open_and_unfiled_batches_only(database_url: str) -> None:
    async def work(s: Storage) -> list[bool]:
        store = BatchStore(s.engine)
        now = datetime.now(UTC)
        later = now + timedelta(hours=24)
        seen = [await store.has_work(FILES)]  # nothing at all
        one = [NewRequest("a", b"{}")]
        await store.create("msgbatch_1", "k1", "anthropic", one, now, later)
        seen.append(await store.has_work(FILES))  # an open batch
        await store.cancel("msgbatch_1", "k1", now)
        await store.sweep(now)  # canceled, nothing running: it ends
        seen.append(await store.has_work(FILES))  # ended, and its API has no files
        await store.create("batch_2", "k1", "openai", one, now, later)
        await store.cancel("batch_2", "k1", now)
        await store.sweep(now)
        seen.append(await store.has_work(FILES))  # ended without its files yet
        seen.append(await store.has_work(()))  # ... which only a files API waits for
        return seen

    assert run(database_url, work) == [False, True, False, True, False]
