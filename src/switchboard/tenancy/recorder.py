"""The ledger writer: every usage row reaches the database, or a local journal until it can.

`record` never waits: it puts the row on a queue. One task writes the rows in batches. What
happens to a batch:

    database takes it ............................ written
    database refuses it (a row's data) ........... split in halves until the bad rows are
                                                   alone; the rest written, the bad ones kept
                                                   in the journal's `.rejected` file
    database unreachable or failing .............. retried with backoff, then appended to the
                                                   journal (fsync'd); later batches go straight
                                                   there until the database answers again
    journal unwritable too ....................... held in memory, and `accepting` turns False:
                                                   the gateway refuses new billable requests
                                                   (529) rather than serve what it cannot bill

While rows wait (in the journal or in memory), the task probes every `recover_every` seconds;
once the database answers, held rows are written and the journal replayed. At start the
journal is replayed before the gateway serves, so a budget seeded from the ledger counts it.
An error that is neither a refusal of a row nor a connection failure counts as the database
being down: rows wait in the journal, never dropped."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from switchboard.log import events as log
from switchboard.tenancy.usage import UsageRow

if TYPE_CHECKING:
    from switchboard.storage.journal import Journal

ATTEMPTS = 3  # writes of a batch before it goes to the journal
BACKOFF = 0.2  # seconds before the second attempt; doubled for each further one


class RowsRefused(Exception):
    """The database is up and refused what the rows hold (a value out of a column's range)."""


class LedgerSink(Protocol):
    async def write(self, rows: Sequence[UsageRow]) -> None:
        """Stores the rows (idempotently: a row already stored is skipped); raises RowsRefused
        when a row's data is at fault, any other exception when the database is not there."""
        ...


class _Signal(enum.Enum):
    TICK = "tick"  # time to probe the database / replay the journal
    STOP = "stop"


@dataclass(slots=True)
class LedgerStats:
    """Counters for the metrics (read when scraped)."""

    written: int = 0
    journaled: int = 0
    replayed: int = 0
    rejected: int = 0
    write_failures: int = 0
    journal_failures: int = 0


class LedgerWriter:
    """After the first row of a batch the writer lingers `linger` seconds for more: a
    transaction costs the same for one row or hundreds (on SQLite each statement is a hop to
    the driver's thread), so under load rows arrive in a few large batches."""

    def __init__(
        self,
        sink: LedgerSink,
        journal: Journal,
        batch: int = 500,
        linger: float = 0.05,
        recover_every: float = 2.0,
    ) -> None:
        self._sink = sink
        self.journal = journal
        self._batch = batch
        self._linger = linger
        self._recover_every = recover_every
        self._queue: asyncio.Queue[UsageRow | _Signal] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        # The readiness flag the gateway checks before a billable request: one attribute read.
        self.accepting = True
        self.stats = LedgerStats()
        self.held: list[UsageRow] = []  # rows neither the database nor the journal took
        self._database_down = False
        self._journal_waiting = False
        self._stopped = False

    async def start(self) -> None:
        """Replays the journal a previous run left (before the gateway serves), then starts
        the writer task."""
        self._journal_waiting = await asyncio.to_thread(self.journal.size) > 0
        if self._journal_waiting:
            await self._recover()
        self._task = asyncio.create_task(self._run(), name="switchboard-ledger")
        self._arm()

    def record(self, row: UsageRow) -> None:
        if self._stopped:
            # A request that ended after the writer stopped (cut at shutdown): its row goes to
            # the journal at once, and the next start replays it.
            self._spool_now([row])
            return
        self._queue.put_nowait(row)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._queue.put_nowait(_Signal.STOP)
        await self._task
        self._task = None
        self._stopped = True
        # Rows recorded while the last batch was being written.
        late: list[UsageRow] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, UsageRow):
                late.append(item)
        if late:
            await self._write(late)
        if self.held:
            self._spool_now(self.held)
            self.held = []

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if isinstance(first, UsageRow) and self._linger and self._queue.qsize() < self._batch:
                await asyncio.sleep(self._linger)
            rows: list[UsageRow] = []
            tick = False
            item = first
            while True:
                if item is _Signal.STOP:
                    stopping = True
                elif item is _Signal.TICK:
                    tick = True
                elif isinstance(item, UsageRow):
                    rows.append(item)
                if len(rows) >= self._batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if tick:
                self._timer = None
            try:
                if rows:
                    await self._write(rows)
                if tick:
                    await self._recover()
            except Exception:  # noqa: BLE001 - the writer task's boundary: it must go on
                # A bug of ours (every expected failure is handled below): the rows wait in
                # memory and are tried again (a row stored twice is skipped).
                log.exception("the usage ledger writer failed; %d rows kept in memory", len(rows))
                self.held += rows
            self._arm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.held:  # a last try before the process exits (stop keeps what is left)
            await self._recover()

    def _arm(self) -> None:
        """Schedules the next probe while anything waits: a tick put on the queue, so the task
        is never woken by a timeout racing a row."""
        if self._timer is None and (self._database_down or self.held or self._journal_waiting):
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._recover_every, self._queue.put_nowait, _Signal.TICK)

    async def _write(self, rows: list[UsageRow]) -> None:
        if self._database_down:
            await self._spool(rows)
            return
        left = await self._store(rows, ATTEMPTS)
        if left:
            log.error(
                "the usage database is not answering: %d usage rows go to the journal %s",
                len(left),
                self.journal.path,
            )
            self._database_down = True
            await self._spool(left)

    async def _store(self, rows: list[UsageRow], attempts: int) -> list[UsageRow]:
        """Writes the rows; returns those not written because the database is not there."""
        for attempt in range(attempts):
            try:
                await self._sink.write(rows)
            except RowsRefused:
                self.stats.write_failures += 1
                return await self._isolate(rows)
            except Exception as exc:  # noqa: BLE001 - any failure: the database is not there
                self.stats.write_failures += 1
                log.warning(
                    "writing %d usage rows failed (attempt %d of %d): %s",
                    len(rows),
                    attempt + 1,
                    attempts,
                    type(exc).__name__,
                )
                if attempt + 1 < attempts:
                    await asyncio.sleep(BACKOFF * 2**attempt)
                continue
            self.stats.written += len(rows)
            return []
        return rows

    async def _isolate(self, rows: list[UsageRow]) -> list[UsageRow]:
        """Halves a refused batch until each refused row is alone: the others are written, the
        refused ones kept aside. Returns the rows not written because the database went."""
        if len(rows) == 1:
            self._reject(rows)
            return []
        left: list[UsageRow] = []
        middle = len(rows) // 2
        for half in (rows[:middle], rows[middle:]):
            try:
                await self._sink.write(half)
            except RowsRefused:
                left += await self._isolate(half)
            except Exception:  # noqa: BLE001 - the database went while isolating
                left += half
            else:
                self.stats.written += len(half)
        return left

    def _reject(self, rows: list[UsageRow]) -> None:
        self.stats.rejected += len(rows)
        for row in rows:
            log.error(
                "the usage database refused the row of request %s even alone; it is kept in %s",
                row.request_id,
                self.journal.rejected_path,
            )
        try:
            self.journal.reject(rows)
        except OSError as exc:
            log.error("cannot keep refused usage rows (%s): %s", exc, rows)

    async def _spool(self, rows: list[UsageRow]) -> None:
        try:
            await asyncio.to_thread(self.journal.append, rows)
        except OSError as exc:
            self.stats.journal_failures += 1
            if self.accepting:
                log.error(
                    "the usage journal %s cannot be written either (%s): refusing new "
                    "billable requests until the database or the journal takes rows",
                    self.journal.path,
                    exc,
                )
            self.accepting = False
            self.held += rows
            return
        self.stats.journaled += len(rows)
        self._journal_waiting = True
        self.accepting = True

    def _spool_now(self, rows: list[UsageRow]) -> None:
        """The same, without the event loop: the writer task is gone."""
        try:
            self.journal.append(rows)
        except OSError as exc:
            # Nowhere left to keep them: the log line is the last record of these rows.
            log.error("usage rows lost: neither the database nor the journal (%s): %s", exc, rows)
            return
        self.stats.journaled += len(rows)

    async def _recover(self) -> None:
        """Probes the database with what waits: rows held in memory, then the journal."""
        try:
            await self._recover_held()
        except OSError as exc:  # the journal cannot be read now: the next tick tries again
            log.error("replaying the usage journal %s failed: %s", self.journal.path, exc)

    async def _recover_held(self) -> None:
        if self.held:
            held, self.held = self.held, []
            left = await self._store(held, 1)
            if left:
                self._database_down = True
                await self._spool(left)  # perhaps the journal is back
                return
            self._database_down = False
            self.accepting = True
        if self._journal_waiting or self._database_down:
            await self._replay()

    async def _replay(self) -> None:
        """Replays the journal into the database; the file is emptied only once every row in
        it is stored, so a replay cut short is done again (stored rows are skipped)."""
        started = time.monotonic()
        replayed = 0
        with self.journal.replaying() as fd:
            if fd is None:  # nothing there, or another process is replaying it
                self._journal_waiting = await asyncio.to_thread(self.journal.size) > 0
                if not self._journal_waiting:
                    self._database_down = False  # nothing to test it with: the next batch will
                return
            offset = 0
            while True:
                chunk = await asyncio.to_thread(self.journal.read, fd, offset)
                if chunk.end == offset:
                    break
                offset = chunk.end
                if chunk.bad_lines:
                    self.stats.rejected += len(chunk.bad_lines)
                    log.error(
                        "%d journal lines are not usage rows; kept in %s",
                        len(chunk.bad_lines),
                        self.journal.rejected_path,
                    )
                    await asyncio.to_thread(self.journal.reject, [], chunk.bad_lines)
                for i in range(0, len(chunk.rows), self._batch):
                    part = chunk.rows[i : i + self._batch]
                    if await self._store(part, 1):
                        self._database_down = True
                        return
                    replayed += len(part)
                    self.stats.replayed += len(part)
            await asyncio.to_thread(self.journal.clear, fd)
        self._journal_waiting = False
        self._database_down = False
        self.accepting = True
        took = time.monotonic() - started
        log.warning("replayed %d usage rows from the journal in %.1f s", replayed, took)
