"""Batches in the database: create, read, list, cancel and delete a key's batches, and the
worker's side: claim pending requests with a lease, renew it, store an outcome once, and sweep
(cancel or expire what has not run, end a batch with nothing left to run).

A claim takes rows no live lease holds. On PostgreSQL the rows are picked with
`FOR UPDATE SKIP LOCKED`, so gateway processes sharing the database claim disjoint rows; on
SQLite the UPDATE itself holds the one write lock, so two claims cannot interleave. An outcome
is stored only where none is (`outcome IS NULL`): a stored result is final, and a request
with one is never claimed again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from switchboard.storage.files import FileRow, file_values
from switchboard.storage.keys import utc
from switchboard.storage.tables import batch_requests, batches, files

IN_PROGRESS = "in_progress"
CANCELING = "canceling"
ENDED = "ended"
OUTCOMES = ("succeeded", "errored", "canceled", "expired")


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: str
    key_id: str
    api: str
    status: str
    total: int
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    cancel_initiated_at: datetime | None
    counts: dict[str, int]  # outcome -> requests with it; "processing": those without
    input_file_id: str | None = None
    endpoint: str | None = None
    metadata: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewRequest:
    custom_id: str
    params: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    """A request a worker holds: its row, its batch's key and API."""

    row_id: int
    batch_id: str
    idx: int
    custom_id: str
    params: bytes
    key_id: str
    api: str


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str
    status: int
    request_id: str
    result: bytes | None


@dataclass(frozen=True, slots=True)
class StoredResult:
    idx: int
    custom_id: str
    outcome: str
    status: int | None
    request_id: str | None
    result: bytes | None


_BATCH_COLUMNS = (
    batches.c.id,
    batches.c.key_id,
    batches.c.api,
    batches.c.status,
    batches.c.total,
    batches.c.created_at,
    batches.c.expires_at,
    batches.c.ended_at,
    batches.c.cancel_initiated_at,
    batches.c.input_file_id,
    batches.c.endpoint,
    batches.c.metadata,
    batches.c.output_file_id,
    batches.c.error_file_id,
)
# Rows written per INSERT when a batch is created (bounded bind parameters per statement).
_CHUNK = 500


class BatchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- the API's side -------------------------------------------------------------------

    async def create(
        self,
        batch_id: str,
        key_id: str,
        api: str,
        requests: Sequence[NewRequest],
        now: datetime,
        expires_at: datetime,
        *,
        input_file_id: str | None = None,
        endpoint: str | None = None,
        metadata: str | None = None,
    ) -> BatchRow:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(batches).values(
                    id=batch_id,
                    key_id=key_id,
                    api=api,
                    status=IN_PROGRESS,
                    total=len(requests),
                    created_at=now,
                    expires_at=expires_at,
                    input_file_id=input_file_id,
                    endpoint=endpoint,
                    metadata=metadata,
                )
            )
            for start in range(0, len(requests), _CHUNK):
                chunk = requests[start : start + _CHUNK]
                await conn.execute(
                    insert(batch_requests),
                    [
                        {
                            "batch_id": batch_id,
                            "idx": start + i,
                            "custom_id": r.custom_id,
                            "params": r.params,
                        }
                        for i, r in enumerate(chunk)
                    ],
                )
            found = await self._get(conn, batch_id, key_id)
        assert found is not None
        return found

    async def get(self, batch_id: str, key_id: str) -> BatchRow | None:
        async with self._engine.connect() as conn:
            return await self._get(conn, batch_id, key_id)

    async def _get(self, conn: AsyncConnection, batch_id: str, key_id: str) -> BatchRow | None:
        row = (
            await conn.execute(
                select(*_BATCH_COLUMNS).where(batches.c.id == batch_id, batches.c.key_id == key_id)
            )
        ).first()
        if row is None:
            return None
        counts = await self._counts(conn, batch_id)
        return _batch(row._mapping, counts)

    @staticmethod
    async def _counts(conn: AsyncConnection, batch_id: str) -> dict[str, int]:
        found = await conn.execute(
            select(batch_requests.c.outcome, func.count())
            .where(batch_requests.c.batch_id == batch_id)
            .group_by(batch_requests.c.outcome)
        )
        counts = dict.fromkeys(("processing", *OUTCOMES), 0)
        for outcome, n in found:
            counts[outcome or "processing"] = int(n)
        return counts

    async def page(
        self, key_id: str, api: str, limit: int, after_id: str | None, before_id: str | None
    ) -> tuple[list[BatchRow], bool]:
        """A page of the key's batches, newest first: those older than `after_id`, or newer
        than `before_id` (the Anthropic list's cursors; OpenAI's `after` is `after_id`). Also
        whether more lie beyond the page."""
        query = select(*_BATCH_COLUMNS).where(batches.c.key_id == key_id, batches.c.api == api)
        newest_first = True
        async with self._engine.connect() as conn:
            cursor = after_id or before_id
            if cursor is not None:
                at = (
                    await conn.execute(
                        select(batches.c.created_at, batches.c.id).where(
                            batches.c.id == cursor, batches.c.key_id == key_id
                        )
                    )
                ).first()
                if at is None:
                    return [], False
                older = or_(
                    batches.c.created_at < at[0],
                    and_(batches.c.created_at == at[0], batches.c.id < at[1]),
                )
                newer = or_(
                    batches.c.created_at > at[0],
                    and_(batches.c.created_at == at[0], batches.c.id > at[1]),
                )
                query = query.where(older if after_id else newer)
                newest_first = after_id is not None
            order = (
                (batches.c.created_at.desc(), batches.c.id.desc())
                if newest_first
                else (batches.c.created_at.asc(), batches.c.id.asc())
            )
            rows = list(await conn.execute(query.order_by(*order).limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            if not newest_first:
                rows.reverse()
            return [_batch(r._mapping, await self._counts(conn, r.id)) for r in rows], more

    async def cancel(self, batch_id: str, key_id: str, now: datetime) -> BatchRow | None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(batches)
                .where(
                    batches.c.id == batch_id,
                    batches.c.key_id == key_id,
                    batches.c.status == IN_PROGRESS,
                )
                .values(status=CANCELING, cancel_initiated_at=now)
            )
            return await self._get(conn, batch_id, key_id)

    async def delete(self, batch_id: str, key_id: str) -> bool:
        """Deletes an ended batch and its requests (and output files); False if not there."""
        async with self._engine.begin() as conn:
            gone = await conn.execute(
                delete(batches).where(
                    batches.c.id == batch_id, batches.c.key_id == key_id, batches.c.status == ENDED
                )
            )
            if not gone.rowcount:
                return False
            await conn.execute(delete(batch_requests).where(batch_requests.c.batch_id == batch_id))
            await conn.execute(delete(files).where(files.c.batch_id == batch_id))
            return True

    async def results(self, batch_id: str) -> list[StoredResult]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(
                    batch_requests.c.idx,
                    batch_requests.c.custom_id,
                    batch_requests.c.outcome,
                    batch_requests.c.status,
                    batch_requests.c.request_id,
                    batch_requests.c.result,
                )
                .where(batch_requests.c.batch_id == batch_id)
                .order_by(batch_requests.c.idx)
            )
            return [StoredResult(*r) for r in rows]

    # -- a batch's output files (storage/files.py holds the files themselves) -------------

    async def set_files(self, batch_id: str, made: Sequence[tuple[FileRow, bytes]]) -> bool:
        """An ended batch's output and error files, stored with it in one transaction, unless
        it has its files already (another process made them first: False)."""
        ids = {row.part: row.id for row, _ in made}
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(batches)
                .where(
                    batches.c.id == batch_id,
                    batches.c.output_file_id.is_(None),
                    batches.c.error_file_id.is_(None),
                )
                .values(output_file_id=ids.get("output"), error_file_id=ids.get("error"))
            )
            if not done.rowcount:
                return False
            for row, content in made:
                await conn.execute(insert(files).values(**file_values(row), content=content))
            return True

    async def unfiled(self, api: str) -> list[BatchRow]:
        """The ended batches of an API whose results are files, without their files yet."""
        async with self._engine.connect() as conn:
            rows = list(
                await conn.execute(
                    select(*_BATCH_COLUMNS).where(
                        batches.c.api == api,
                        batches.c.status == ENDED,
                        batches.c.total > 0,
                        batches.c.output_file_id.is_(None),
                        batches.c.error_file_id.is_(None),
                    )
                )
            )
            return [_batch(r._mapping, await self._counts(conn, r.id)) for r in rows]

    # -- the worker's side ----------------------------------------------------------------

    async def has_work(self, file_apis: Sequence[str]) -> bool:
        """Whether any batch is open, or ended without the files its API reads results from:
        one indexed query, so an idle worker's pass costs no more (the sweep's scan and its
        transaction, the other queries, are left for when there is work)."""
        unfiled = and_(
            batches.c.status == ENDED,
            batches.c.api.in_(list(file_apis)),
            batches.c.total > 0,
            batches.c.output_file_id.is_(None),
            batches.c.error_file_id.is_(None),
        )
        query = select(batches.c.id).where(or_(batches.c.status != ENDED, unfiled)).limit(1)
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def runnable(self, now: datetime) -> list[str]:
        """Batches with requests to run, oldest first."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(batches.c.id)
                .where(batches.c.status == IN_PROGRESS, batches.c.expires_at > now)
                .order_by(batches.c.created_at, batches.c.id)
            )
            return [r[0] for r in rows]

    async def claim(
        self, batch_id: str, owner: str, now: datetime, until: datetime, limit: int
    ) -> list[Claimed]:
        """Up to `limit` of the batch's requests that have no outcome and no live lease,
        leased to `owner` until `until`."""
        async with self._engine.connect() as conn:
            batch = (
                await conn.execute(
                    select(batches.c.key_id, batches.c.api).where(
                        batches.c.id == batch_id, batches.c.status == IN_PROGRESS
                    )
                )
            ).first()
        if batch is None:
            return []
        claimable = and_(
            batch_requests.c.batch_id == batch_id,
            batch_requests.c.outcome.is_(None),
            or_(batch_requests.c.lease_until.is_(None), batch_requests.c.lease_until < now),
        )
        # Picked in a CTE, which runs once: as `id IN (SELECT ... LIMIT n)`, PostgreSQL may run
        # the subquery again and lease more than n rows. The UPDATE checks the conditions again.
        picked = (
            select(batch_requests.c.id)
            .where(claimable)
            .order_by(batch_requests.c.idx)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("picked")
        )
        claim = (
            update(batch_requests)
            .where(batch_requests.c.id == picked.c.id, claimable)
            .values(lease_owner=owner, lease_until=until)
            .returning(
                batch_requests.c.id,
                batch_requests.c.idx,
                batch_requests.c.custom_id,
                batch_requests.c.params,
            )
        )
        async with self._engine.begin() as conn:
            rows = sorted(await conn.execute(claim), key=lambda r: r[1])
        return [Claimed(r[0], batch_id, r[1], r[2], r[3], batch[0], batch[1]) for r in rows]

    async def renew(self, owner: str, row_ids: Sequence[int], until: datetime) -> None:
        if not row_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(batch_requests)
                .where(
                    batch_requests.c.id.in_(list(row_ids)),
                    batch_requests.c.lease_owner == owner,
                    batch_requests.c.outcome.is_(None),
                )
                .values(lease_until=until)
            )

    async def put_back(self, row_id: int, owner: str, until: datetime) -> None:
        """Not run now (the key's rate limit): claimable again from `until`."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(batch_requests)
                .where(batch_requests.c.id == row_id, batch_requests.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=until)
            )

    async def finish(self, row_id: int, outcome: Outcome) -> bool:
        """Stores the request's outcome unless it has one (then False: the other is kept)."""
        async with self._engine.begin() as conn:
            done = await conn.execute(
                update(batch_requests)
                .where(batch_requests.c.id == row_id, batch_requests.c.outcome.is_(None))
                .values(
                    outcome=outcome.outcome,
                    status=outcome.status,
                    request_id=outcome.request_id,
                    result=outcome.result,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            return bool(done.rowcount)

    async def sweep(self, now: datetime) -> None:
        """Cancels the unstarted requests of canceling batches, expires those of expired ones,
        and ends each batch left with nothing to run."""
        async with self._engine.begin() as conn:
            open_ = list(
                await conn.execute(
                    select(batches.c.id, batches.c.status, batches.c.expires_at).where(
                        batches.c.status != ENDED
                    )
                )
            )
            for batch_id, status, expires_at in open_:
                idle = and_(
                    batch_requests.c.batch_id == batch_id,
                    batch_requests.c.outcome.is_(None),
                    or_(
                        batch_requests.c.lease_owner.is_(None),
                        batch_requests.c.lease_until.is_(None),
                        batch_requests.c.lease_until < now,
                    ),
                )
                expired = _utc(expires_at) <= now
                if status == CANCELING or expired:
                    outcome = "expired" if expired else "canceled"
                    await conn.execute(
                        update(batch_requests)
                        .where(idle)
                        .values(outcome=outcome, lease_owner=None, lease_until=None)
                    )
                left = (
                    await conn.execute(
                        select(func.count()).where(
                            batch_requests.c.batch_id == batch_id,
                            batch_requests.c.outcome.is_(None),
                        )
                    )
                ).scalar_one()
                if left:
                    continue
                await conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id, batches.c.status != ENDED)
                    .values(status=ENDED, ended_at=now)
                )


def _utc(value: datetime) -> datetime:
    converted = utc(value)
    assert converted is not None
    return converted


def _batch(m: object, counts: dict[str, int]) -> BatchRow:
    from sqlalchemy import RowMapping

    assert isinstance(m, RowMapping)
    return BatchRow(
        id=m["id"],
        key_id=m["key_id"],
        api=m["api"],
        status=m["status"],
        total=m["total"],
        created_at=_utc(m["created_at"]),
        expires_at=_utc(m["expires_at"]),
        ended_at=utc(m["ended_at"]),
        cancel_initiated_at=utc(m["cancel_initiated_at"]),
        counts=counts,
        input_file_id=m["input_file_id"],
        endpoint=m["endpoint"],
        metadata=m["metadata"],
        output_file_id=m["output_file_id"],
        error_file_id=m["error_file_id"],
    )
