"""Batches: what the handlers ask of the machinery (create, read, list, cancel, delete,
results), and the worker each gateway process runs (started and stopped with the app).

The worker, every `poll_seconds` or when woken (a batch was created, a request ended):
  sweep       cancel / expire what has not run, end the batches with nothing left to run
  renew       extend the leases of the requests this process runs
  claim       lease pending requests, oldest batch first, within `concurrency` for the
              process and `per_batch` for one batch; each runs as a task
A request runs through the pipeline as its batch's key (limits, budget, routing, ledger), with
`per_upstream` requests at most on one provider, and ends as an online request does: an access
line and the metrics (`Finished`, the app's), and a ledger row. Its outcome is stored once; a
request the key's rate limit refuses is put back until the limit allows it. A process that dies
leaves leases that lapse after `lease_seconds`; another process (or this one, restarted) takes
those requests up again. Only a request whose outcome was not stored can run twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from switchboard.batches.dialect import BatchApi
from switchboard.batches.principals import Principals
from switchboard.catalog import Catalog
from switchboard.config import Batches as BatchesConfig
from switchboard.errors import ApiError, GatewayError, RateLimited
from switchboard.ids import request_id
from switchboard.log import events as log
from switchboard.record import RequestRecord
from switchboard.service import Gateway
from switchboard.storage.batches import BatchRow, BatchStore, Claimed, NewRequest, Outcome
from switchboard.storage.files import FileRow, FileStore
from switchboard.tenancy.recorder import LedgerWriter
from switchboard.tenancy.usage import ledger_row

# What the app does with a request that ended: (record, request id, method, path, status,
# latency in ms) -> its access line and metrics, the same for a batch's requests as for online
# ones (App.finished).
Finished = Callable[[RequestRecord, str, str, str, int, float], None]
# How long stopping waits for the requests in flight to end (then they are put back).
STOP_WAIT = 5.0


def now_utc() -> datetime:
    return datetime.now(UTC)


class Batches:
    def __init__(
        self,
        config: BatchesConfig,
        store: BatchStore,
        files: FileStore,
        gateway: Gateway,
        principals: Principals,
        ledger: LedgerWriter,
        apis: Mapping[str, BatchApi],
        finished: Finished,
    ) -> None:
        self.config = config
        self.store = store
        self.files = files
        self.apis = apis
        # The APIs whose results are files, made by the worker once a batch has ended.
        self._file_apis = tuple(name for name, api in apis.items() if api.output_files is not None)
        self._gateway = gateway
        self._catalog: Catalog = gateway.catalog
        self._principals = principals
        self._ledger = ledger
        self._finished = finished
        # Who holds a lease: unique per process and start, bounded to the column.
        host = socket.gethostname()[:32]
        self.owner = f"{host}:{os.getpid()}:{secrets.token_hex(4)}"
        self._running: dict[int, tuple[str, asyncio.Task[None]]] = {}
        self._upstreams: dict[str, asyncio.Semaphore] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    # -- for the handlers -----------------------------------------------------------------

    async def create(
        self,
        batch_id: str,
        key_id: str,
        api: str,
        items: Sequence[tuple[str, bytes]],
        *,
        input_file_id: str | None = None,
        metadata: str | None = None,
    ) -> BatchRow:
        now = now_utc()
        row = await self.store.create(
            batch_id,
            key_id,
            api,
            [NewRequest(custom_id, body) for custom_id, body in items],
            now,
            now + timedelta(hours=self.config.expiry_hours),
            input_file_id=input_file_id,
            endpoint=None if input_file_id is None else self.apis[api].path,
            metadata=metadata,
        )
        self.wake()
        return row

    async def cancel(self, batch_id: str, key_id: str) -> BatchRow | None:
        row = await self.store.cancel(batch_id, key_id, now_utc())
        self.wake()
        return row

    def wake(self) -> None:
        self._wake.set()

    # -- the worker -----------------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="batch-worker")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        tasks = [task for _, task in self._running.values()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the worker's boundary: it must keep running
                log.exception("the batch worker's pass failed; retrying")
            with contextlib.suppress(TimeoutError):  # no wake-up: time for the next pass
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)

    async def tick(self) -> None:
        now = now_utc()
        if not self._running and not await self.store.has_work(self._file_apis):
            return  # (most passes of most gateways: one query, not four and a transaction)
        await self.store.sweep(now)
        for api in self.apis.values():
            if api.output_files is not None:
                for ended in await self.store.unfiled(api.name):
                    await self._file(ended)
        until = now + timedelta(seconds=self.config.lease_seconds)
        await self.store.renew(self.owner, list(self._running), until)
        free = self.config.concurrency - len(self._running)
        if free <= 0 or not self._ledger.accepting:
            return  # (no usage could be recorded: nothing runs unbilled)
        for batch_id in await self.store.runnable(now):
            busy = sum(1 for b, _ in self._running.values() if b == batch_id)
            want = min(self.config.per_batch - busy, free)
            if want <= 0:
                continue
            for item in await self.store.claim(batch_id, self.owner, now, until, want):
                task = asyncio.create_task(self._run(item), name=f"batch-request-{item.row_id}")
                self._running[item.row_id] = (batch_id, task)
                free -= 1
            if free <= 0:
                return

    async def _file(self, batch: BatchRow) -> None:
        """An ended batch's output files, for an API whose results are files (until they are
        made, OpenAI's batch reads `finalizing`)."""
        api = self.apis.get(batch.api)
        if api is None or api.output_files is None:
            return
        made = [
            (
                FileRow(
                    file_id,
                    batch.key_id,
                    "batch_output",
                    f"{batch.id}_{part}.jsonl",
                    len(content),
                    now_utc(),
                    batch.id,
                    part,
                ),
                content,
            )
            for part, file_id, content in api.output_files(await self.store.results(batch.id))
        ]
        await self.store.set_files(batch.id, made)

    async def _run(self, item: Claimed) -> None:
        try:
            await self._serve(item)
        except asyncio.CancelledError:
            # Stopping: back to the pending requests at once, for whichever process is next.
            await asyncio.shield(self.store.put_back(item.row_id, self.owner, now_utc()))
            raise
        except Exception:  # noqa: BLE001 - a task's boundary: a bug of ours, logged
            log.exception("batch request %s of %s failed", item.idx, item.batch_id)
        finally:
            self._running.pop(item.row_id, None)
            self.wake()

    async def _serve(self, item: Claimed) -> None:
        api = self.apis[item.api]
        started = time.perf_counter()
        record = RequestRecord(key_id=item.key_id, stream=False, batch_id=item.batch_id)
        rid = request_id()
        try:
            principal = await self._principals.of(item.key_id)
            record.key_name = principal.name
            inbound = api.inbound(item.params, principal, self.config.discount)
            record.model = inbound.model
            async with self._upstream_slot(inbound.model):
                done = await self._gateway.complete(inbound, record)
            outcome = Outcome("succeeded", 200, rid, api.encode(done, inbound))
        except RateLimited as exc:
            # The key's own limits (an upstream's 429 is an UpstreamError): not now, later.
            wait = max(exc.retry_after or 1.0, self.config.poll_seconds)
            await self.store.put_back(item.row_id, self.owner, now_utc() + timedelta(seconds=wait))
            return
        except GatewayError as exc:
            record.failed(exc.error_type, exc.message)
            outcome = Outcome("errored", exc.status, rid, api.error_body(exc, rid))
        except Exception:  # noqa: BLE001 - a bug of ours: the request errs, once, and is logged
            log.exception("batch request %s of %s failed", item.idx, item.batch_id)
            exc_ = ApiError("internal error in the gateway")
            record.failed(exc_.error_type, exc_.message)
            outcome = Outcome("errored", 500, rid, api.error_body(exc_, rid))
        elapsed = (time.perf_counter() - started) * 1000
        # It ran, whether or not its outcome is the one stored: the log says so.
        self._finished(record, rid, "POST", api.path, outcome.status, elapsed)
        if not await self.store.finish(item.row_id, outcome):
            return  # another process stored one first (its lease had lapsed): that one counts
        row = ledger_row(record, now_utc(), rid, outcome.status, elapsed, self._known)
        if row is not None:
            self._ledger.record(row)

    def _known(self, name: str) -> bool:
        return self._catalog.resolve(name) is not None

    def _upstream_slot(self, model: str) -> asyncio.Semaphore:
        """The bound on one provider's batch requests in this process (the provider of the
        model's first channel: where the request is meant to go)."""
        entry = self._catalog.resolve(model)
        provider = entry.channels[0].provider.name if entry is not None else ""
        slot = self._upstreams.get(provider)
        if slot is None:
            slot = self._upstreams[provider] = asyncio.Semaphore(self.config.per_upstream)
        return slot
