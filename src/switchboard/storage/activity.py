"""Ledger reads for the operator's views (the console and `/admin/...`): a sorted page of
requests, totals, time series with latency percentiles, and each key's spend and last use.

Everything is computed in the database and comes back small: a page is a LIMIT/OFFSET over the
`at` index, a series is one GROUP BY over the window's rows. Latency percentiles come from a
histogram of log-spaced bins (5% wide) counted by the database, so a 30-day window never
ships its rows to Python; a percentile is exact to within its bin."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, cast, func, literal_column, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import BigInteger, DateTime, Integer, String

from switchboard.storage.keys import utc
from switchboard.storage.ledger import UsageFilter
from switchboard.storage.tables import usage
from switchboard.tenancy.keys import NANO

Dimension = Literal["model", "key", "channel"]
DIMENSIONS: tuple[Dimension, ...] = ("model", "key", "channel")
SortKey = Literal["at", "latency", "cost", "tokens"]
SORTS: tuple[SortKey, ...] = ("at", "latency", "cost", "tokens")
BINS_PER_E = 20  # latency bins per factor of e: each ~5% wide
MAX_PAGE = 500
CACHE_SECONDS = 120.0  # how long buckets already over are kept (rows written late: this late)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """The ledger filter plus what the requests view adds."""

    usage: UsageFilter = field(default_factory=UsageFilter)
    channel: str | None = None
    outcome: Literal["ok", "error"] | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as the operator sees it (cost in USD)."""

    at: datetime
    request_id: str
    key_id: str
    model: str
    channel: str
    status: int
    error_type: str | None
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    stream: bool
    client_disconnected: bool
    failovers: int
    retries: int
    # What translation dropped or changed, `; `-separated (the loss report); None: nothing.
    dropped: str | None = None
    # Server tools the gateway ran for it (servertools/), or Anthropic ran for a relayed one.
    web_search_requests: int = 0
    web_fetch_requests: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[LedgerEntry]
    total: int  # rows matching the filter (-1: not counted)
    offset: int
    limit: int


@dataclass(slots=True)
class Totals:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """Per time bucket (`starts` are Unix seconds), overall and for the top groups."""

    step_seconds: int
    starts: list[int]
    totals: dict[str, list[float | None]]  # metric -> one value per bucket
    groups: dict[str, dict[str, list[float]]]  # group -> metric -> one value per bucket
    by_group: list[tuple[str, Totals]] = field(default_factory=list)  # busiest first
    overall: Totals = field(default_factory=Totals)  # the whole window


@dataclass(frozen=True, slots=True)
class KeyActivity:
    spent_day_nusd: int
    spent_month_nusd: int
    spent_total_nusd: int
    last_used: datetime | None


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of latencies counted in log bins: the middle of its bin."""
    count = sum(histogram.values())
    if count == 0:
        return None
    rank = q * count
    seen = 0
    for b in sorted(histogram):
        seen += histogram[b]
        if seen >= rank:
            return round(math.exp((b + 0.5) / BINS_PER_E) - 1, 1)
    return None  # pragma: no cover - the loop always reaches the rank


def _column(dimension: Dimension) -> ColumnElement[Any]:
    return {"model": usage.c.model, "key": usage.c.key_id, "channel": usage.c.channel}[dimension]


class Activity:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Buckets already over, of wide-bucket windows: (step, first, last, by, filter) ->
        # (monotonic expiry, rows).
        self._closed: dict[tuple[Any, ...], tuple[float, list[tuple[Any, ...]]]] = {}

    @property
    def _sqlite(self) -> bool:
        return self._engine.dialect.name == "sqlite"

    def _epoch(self) -> ColumnElement[Any]:
        if self._sqlite:
            return cast(func.strftime("%s", usage.c.at), Integer)
        return cast(func.extract("epoch", usage.c.at), BigInteger)

    def _bin(self) -> ColumnElement[Any]:
        return cast(func.floor(func.ln(usage.c.latency_ms + 1.0) * BINS_PER_E), Integer)

    @staticmethod
    def _where(query: Select[Any], f: RequestFilter) -> Select[Any]:
        u = f.usage
        conditions: list[ColumnElement[bool]] = []
        if u.key_id is not None:
            conditions.append(usage.c.key_id == u.key_id)
        if u.model is not None:
            conditions.append(usage.c.model == u.model)
        if u.since is not None:
            conditions.append(usage.c.at >= u.since)
        if u.until is not None:
            conditions.append(usage.c.at < u.until)
        if f.channel is not None:
            conditions.append(usage.c.channel == f.channel)
        if f.outcome == "ok":
            conditions.append(and_(usage.c.status < 400, usage.c.error_type.is_(None)))
        elif f.outcome == "error":
            conditions.append((usage.c.status >= 400) | usage.c.error_type.is_not(None))
        return query.where(*conditions) if conditions else query

    async def page(
        self,
        f: RequestFilter,
        sort: SortKey = "at",
        offset: int = 0,
        limit: int = 50,
        *,
        count: bool = True,
    ) -> Page:
        """A page of the ledger; `total` counts every matching row (-1 when not `count`: a
        live refresh every 2 s need not count a large ledger each time)."""
        order = {
            "at": (usage.c.at.desc(), usage.c.id.desc()),
            "latency": (usage.c.latency_ms.desc(), usage.c.id.desc()),
            "cost": (usage.c.cost_nusd.desc(), usage.c.id.desc()),
            "tokens": ((usage.c.input_tokens + usage.c.output_tokens).desc(), usage.c.id.desc()),
        }[sort]
        limit = max(1, min(limit, MAX_PAGE))
        query = self._where(select(usage), f).order_by(*order).offset(offset).limit(limit)
        counted = self._where(select(func.count()).select_from(usage), f)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            total = int((await conn.execute(counted)).scalar_one()) if count else -1
        return Page([_entry(r) for r in rows], total, offset, limit)

    async def entry(self, request_id: str) -> LedgerEntry | None:
        query = select(usage).where(usage.c.request_id == request_id).limit(1)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _entry(row) if row is not None else None

    def _time(self, scan: bool) -> ColumnElement[Any]:
        """`at`, for a time condition. On SQLite a condition on `at` makes the planner walk the
        `at` index and fetch every row it points to in index order: for a window that holds
        most of the ledger, a plain scan is 3-4x faster (measured in bench/console.py), and
        `+at` is how SQLite is told not to use the index. PostgreSQL decides from statistics."""
        if scan and self._sqlite:
            return literal_column("+usage.at", DateTime(timezone=True))
        return usage.c.at

    async def series(
        self, f: RequestFilter, step: int, buckets: int, end: datetime, dimension: Dimension
    ) -> Series:
        """`buckets` buckets of `step` seconds ending with the one holding `end`: totals,
        latency percentiles and, for the busiest groups of `dimension`, their own series.

        One GROUP BY (bucket, group, latency bin) over the window. For windows of wide buckets
        the buckets already over are kept for CACHE_SECONDS (a 30-day window is a scan of the
        whole ledger; the bucket still open is read each time through the index)."""
        last = int(end.timestamp()) // step
        first = last - buckets + 1
        open_from = datetime.fromtimestamp(last * step, UTC)
        base = RequestFilter(
            UsageFilter(f.usage.key_id, f.usage.model, None, None), f.channel, f.outcome
        )
        rows: list[tuple[Any, ...]] = []
        if step >= 900:
            key = (step, first, last, dimension, base)
            now = time.monotonic()
            hit = self._closed.get(key)
            if hit is None or hit[0] < now:
                since = datetime.fromtimestamp(first * step, UTC)
                closed = await self._grouped(base, step, dimension, since, open_from, scan=True)
                if len(self._closed) >= 32:
                    self._closed = {k: v for k, v in self._closed.items() if v[0] >= now}
                hit = self._closed[key] = (now + CACHE_SECONDS, closed)
            rows += hit[1]
            rows += await self._grouped(base, step, dimension, open_from, None, scan=False)
        else:
            since = datetime.fromtimestamp(first * step, UTC)
            rows += await self._grouped(base, step, dimension, since, None, scan=False)
        return _series(step, first, buckets, rows)

    async def _grouped(
        self,
        f: RequestFilter,
        step: int,
        dimension: Dimension,
        since: datetime,
        until: datetime | None,
        *,
        scan: bool,
    ) -> list[tuple[Any, ...]]:
        # Integer division on both databases (the epoch is an integer column expression).
        bucket = (self._epoch() // step).label("bucket")
        group = _column(dimension).label("grp")
        lat_bin = self._bin().label("bin")
        failed = case((usage.c.status >= 400, 1), (usage.c.error_type.is_not(None), 1), else_=0)
        at = self._time(scan)
        query = self._where(
            select(
                bucket,
                group,
                lat_bin,
                func.count(),
                func.sum(failed),
                func.sum(usage.c.input_tokens),
                func.sum(usage.c.output_tokens),
                func.sum(usage.c.cost_nusd),
            ),
            f,
        ).where(at >= since)
        if until is not None:
            query = query.where(at < until)
        async with self._engine.connect() as conn:
            found = (await conn.execute(query.group_by(bucket, group, lat_bin))).all()
        return [tuple(r) for r in found]

    async def key_activity(self, now: datetime) -> dict[str, KeyActivity]:
        """Every key's spend today, this month and in all, and when it was last used: one scan
        of the ledger grouped by key. (On SQLite not through the key-and-time index, which
        would fetch every row in index order: 4x slower, bench/console.py.)"""
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        zero = cast(0, BigInteger)
        key: ColumnElement[Any] = usage.c.key_id
        if self._sqlite:
            key = literal_column("+usage.key_id", String)
        query = select(
            key,
            func.sum(case((usage.c.at >= day, usage.c.cost_nusd), else_=zero)),
            func.sum(case((usage.c.at >= month, usage.c.cost_nusd), else_=zero)),
            func.sum(usage.c.cost_nusd),
            func.max(usage.c.at),
        ).group_by(key)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out = {}
        for key_id, d, m, t, last in rows:
            if isinstance(last, str):  # SQLite's max() of a datetime column is its text
                last = datetime.fromisoformat(last)
            out[str(key_id)] = KeyActivity(int(d or 0), int(m or 0), int(t or 0), utc(last))
        return out

    async def by_channel(self, end: datetime, seconds: int) -> dict[str, Totals]:
        """Each channel's requests, errors and latency percentiles over the last `seconds`."""
        series = await self.series(RequestFilter(), 60, max(1, seconds // 60), end, "channel")
        return dict(series.by_group)


def _entry(r: RowMapping) -> LedgerEntry:
    at = utc(r["at"])
    assert at is not None
    return LedgerEntry(
        at=at,
        request_id=r["request_id"],
        key_id=r["key_id"],
        model=r["model"],
        channel=r["channel"],
        status=int(r["status"]),
        error_type=r["error_type"],
        latency_ms=float(r["latency_ms"]),
        ttft_ms=float(r["ttft_ms"]) if r["ttft_ms"] is not None else None,
        input_tokens=int(r["input_tokens"]),
        output_tokens=int(r["output_tokens"]),
        cache_read_tokens=int(r["cache_read_tokens"]),
        cache_write_tokens=int(r["cache_write_tokens"]),
        cost_usd=int(r["cost_nusd"]) / NANO,
        stream=bool(r["stream"]),
        client_disconnected=bool(r["client_disconnected"]),
        failovers=int(r["failovers"]),
        retries=int(r["retries"]),
        dropped=r["dropped"],
        web_search_requests=int(r["web_search_requests"]),
        web_fetch_requests=int(r["web_fetch_requests"]),
    )


TOP_GROUPS = 6
METRICS = ("requests", "errors", "input_tokens", "output_tokens", "cost_usd")


def _series(step: int, first: int, buckets: int, rows: Sequence[tuple[Any, ...]]) -> Series:
    """Rows of (bucket, group, latency bin, requests, errors, input, output, cost) -> series."""
    starts = [(first + i) * step for i in range(buckets)]
    totals: dict[str, list[float | None]] = {m: [0.0] * buckets for m in METRICS}
    per_group: dict[str, Totals] = {}
    group_values: dict[str, dict[str, list[float]]] = {}
    bucket_hist: list[dict[int, int]] = [{} for _ in range(buckets)]
    group_hist: dict[str, dict[int, int]] = {}
    window_hist: dict[int, int] = {}
    for bucket, grp, b, n, errors, inp, out, cost in rows:
        i = int(bucket) - first
        if not 0 <= i < buckets:
            continue
        name = str(grp)
        values = (float(n), float(errors or 0), float(inp or 0), float(out or 0))
        usd = int(cost or 0) / NANO
        g = group_values.setdefault(name, {m: [0.0] * buckets for m in METRICS})
        for m, v in zip(METRICS, (*values, usd), strict=True):
            column = totals[m]
            column[i] = (column[i] or 0.0) + v
            g[m][i] += v
        t = per_group.setdefault(name, Totals())
        t.requests += int(n)
        t.errors += int(errors or 0)
        t.input_tokens += int(inp or 0)
        t.output_tokens += int(out or 0)
        t.cost_usd += usd
        b = int(b)
        for h in (bucket_hist[i], group_hist.setdefault(name, {}), window_hist):
            h[b] = h.get(b, 0) + int(n)
    totals["p50_ms"] = [percentile(h, 0.5) for h in bucket_hist]
    totals["p95_ms"] = [percentile(h, 0.95) for h in bucket_hist]
    overall = Totals()
    for name, t in per_group.items():
        t.p50_ms = percentile(group_hist.get(name, {}), 0.5)
        t.p95_ms = percentile(group_hist.get(name, {}), 0.95)
        overall.requests += t.requests
        overall.errors += t.errors
        overall.input_tokens += t.input_tokens
        overall.output_tokens += t.output_tokens
        overall.cost_usd += t.cost_usd
    overall.p50_ms = percentile(window_hist, 0.5)
    overall.p95_ms = percentile(window_hist, 0.95)
    ranked = sorted(per_group.items(), key=lambda item: (-item[1].requests, item[0]))
    top = {name: group_values[name] for name, _ in ranked[:TOP_GROUPS]}
    return Series(step, starts, totals, top, ranked, overall)


__all__ = [
    "DIMENSIONS",
    "SORTS",
    "Activity",
    "Dimension",
    "KeyActivity",
    "LedgerEntry",
    "Page",
    "RequestFilter",
    "Series",
    "SortKey",
    "Totals",
    "percentile",
]
