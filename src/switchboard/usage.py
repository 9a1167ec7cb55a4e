"""What a request cost, and the usage ledger: one row per request, written off the hot path by
one task that drains a queue in batches and is flushed when the app shuts down."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from switchboard import ir
from switchboard.config import Pricing
from switchboard.log import events as log

PER_MILLION_TO_NANO = 1_000  # USD per million tokens -> nano-USD per token


def cost_nusd(pricing: Pricing, usage: ir.Usage) -> int:
    """The price of `usage` in nano-USD, rounded up so that a budget is never undercounted."""
    nano = PER_MILLION_TO_NANO * (
        pricing.input * usage.input_tokens
        + pricing.output * usage.output_tokens
        + pricing.cache_read * usage.cache_read_tokens
        + pricing.cache_write * usage.cache_write_tokens
    )
    return math.ceil(round(nano, 6))


def worst_case_nusd(pricing: Pricing, input_estimate: int, max_tokens: int) -> int:
    """What a request may cost at most: its whole input at the dearest input price, and every
    output token it is allowed."""
    dearest = max(pricing.input, pricing.cache_write)
    nano = PER_MILLION_TO_NANO * (dearest * input_estimate + pricing.output * max_tokens)
    return math.ceil(round(nano, 6))


@dataclass(slots=True)  # not frozen: one per request, and frozen inits are slow
class UsageRow:
    at: datetime
    request_id: str
    key_id: str
    model: str
    provider: str
    channel: str
    upstream_model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_nusd: int
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    status: int
    error_type: str | None
    client_disconnected: bool
    failovers: int = 0  # other channels tried before the one that served (or failed last)
    retries: int = 0  # rounds of back-off after every channel had failed


def row_from_log(
    at: datetime, request_id: str, status: int, latency_ms: float, facts: Mapping[str, Any]
) -> UsageRow | None:
    """The ledger row from the facts the handler logged for the access line (one source for
    both); None when the request never got as far as an identified key."""
    key_id = facts.get("key_id")
    if not isinstance(key_id, str):
        return None
    channel = str(facts.get("channel", ""))
    provider, _, upstream_model = channel.partition("/")
    failed = status >= 400 or "error_type" in facts
    return UsageRow(
        at=at,
        request_id=request_id,
        key_id=key_id,
        model=str(facts.get("model", "")),
        provider=provider,
        channel=channel,
        upstream_model=upstream_model,
        input_tokens=int(facts.get("input_tokens", 0)),
        output_tokens=int(facts.get("output_tokens", 0)),
        cache_read_tokens=int(facts.get("cache_read_tokens", 0)),
        cache_write_tokens=int(facts.get("cache_write_tokens", 0)),
        cost_nusd=0 if failed else int(facts.get("cost_nusd", 0)),
        latency_ms=latency_ms,
        ttft_ms=facts.get("ttft_ms"),
        stream=bool(facts.get("stream", False)),
        status=status,
        error_type=facts.get("error_type"),
        client_disconnected=bool(facts.get("client_disconnected", False)),
        failovers=int(facts.get("failovers", 0)),
        retries=int(facts.get("retries", 0)),
    )


class LedgerSink(Protocol):
    async def write(self, rows: Sequence[UsageRow]) -> None: ...


class LedgerWriter:
    """`record` never waits: it puts the row on a queue. One task writes up to `batch` rows per
    transaction; `stop` writes whatever is left before the process exits.

    After the first row of a batch the writer lingers `linger` seconds for more: a transaction
    costs the same for one row or hundreds (on SQLite each statement is a hop to the driver's
    thread), so under load rows arrive in a few large batches instead of one per request."""

    def __init__(self, sink: LedgerSink, batch: int = 500, linger: float = 0.05) -> None:
        self._sink = sink
        self._batch = batch
        self._linger = linger
        self._queue: asyncio.Queue[UsageRow | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchboard-ledger")

    def record(self, row: UsageRow) -> None:
        self._queue.put_nowait(row)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is not None and self._linger and self._queue.qsize() < self._batch:
                await asyncio.sleep(self._linger)
            rows: list[UsageRow] = []
            item: UsageRow | None = first
            while True:
                if item is None:
                    stopping = True
                else:
                    rows.append(item)
                if len(rows) >= self._batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if rows:
                await self._write(rows)

    async def _write(self, rows: list[UsageRow]) -> None:
        for attempt in range(3):
            try:
                await self._sink.write(rows)
                return
            except Exception:  # noqa: BLE001 - the writer task's boundary: keep the gateway up
                log.exception("writing %d usage rows failed (attempt %d)", len(rows), attempt + 1)
                await asyncio.sleep(0.5 * (attempt + 1))
        log.error("dropped %d usage rows after 3 failed writes", len(rows))
