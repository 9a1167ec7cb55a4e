"""The operator's ledger reads (storage/activity.py) on SQLite and PostgreSQL alike: series
buckets, latency percentiles, sorted pages with filters, each key's spend and last use."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from switchboard.storage import Storage, UsageFilter
from switchboard.storage.activity import Activity, RequestFilter, percentile
from switchboard.tenancy.usage import UsageRow

T = TypeVar("T")
NOW = datetime(2026, 3, 14, 12, 30, 15, tzinfo=UTC)


def row(at: datetime, n: int, **changes: object) -> UsageRow:
    fields: dict[str, object] = {
        "at": at,
        "request_id": f"req_{n:06d}",
        "key_id": "key_a",
        "model": "m1",
        "provider": "p",
        "channel": "p/up",
        "upstream_model": "up",
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_nusd": 1_000,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "stream": False,
        "status": 200,
        "error_type": None,
        "client_disconnected": False,
    }
    fields.update(changes)
    return UsageRow(**fields)  # type: ignore[arg-type]


def run(url: str, rows: list[UsageRow], work: Callable[[Activity], Awaitable[T]]) -> T:
    async def main() -> T:
        storage = Storage(url)
        try:
            await storage.upgrade()
            await storage.ledger.write(rows)
            return await work(Activity(storage.engine))
        finally:
            await storage.close()

    return asyncio.run(main())


def test_percentile_of_log_bins_is_within_five_percent() -> None:
    import math

    latencies = [float(v) for v in range(1, 1001)]
    hist: dict[int, int] = {}
    for v in latencies:
        b = math.floor(math.log(v + 1) * 20)
        hist[b] = hist.get(b, 0) + 1
    p50, p95 = percentile(hist, 0.5), percentile(hist, 0.95)
    assert p50 is not None
    assert p95 is not None
    assert p50 == pytest.approx(500, rel=0.05)
    assert p95 == pytest.approx(950, rel=0.05)
    assert percentile({}, 0.5) is None


def test_series_buckets_totals_errors_and_groups(database_url: str) -> None:
    rows = [
        row(NOW - timedelta(minutes=1), 1, latency_ms=50.0),
        row(NOW - timedelta(minutes=1), 2, latency_ms=150.0, model="m2", key_id="key_b"),
        row(NOW, 3, status=502, error_type="api_error", cost_nusd=0, latency_ms=1000.0),
        row(NOW - timedelta(hours=2), 4),  # outside the hour
    ]

    async def work(a: Activity) -> None:
        s = await a.series(RequestFilter(), 60, 60, NOW, "model")
        assert len(s.starts) == 60
        assert s.starts[-1] == int(NOW.timestamp()) // 60 * 60
        assert s.totals["requests"][-2:] == [2.0, 1.0]
        assert s.totals["errors"][-2:] == [0.0, 1.0]
        assert s.totals["input_tokens"][-1] == 10.0
        assert s.totals["cost_usd"][-2] == pytest.approx(2e-6)
        assert s.overall.requests == 3
        assert s.overall.errors == 1
        assert s.overall.p95_ms == pytest.approx(1000, rel=0.05)
        assert dict(s.by_group)["m1"].requests == 2
        assert s.groups["m2"]["requests"][-2] == 1.0
        p50 = s.totals["p50_ms"][-2]
        assert p50 is not None
        assert 50 * 0.95 <= p50 <= 150 * 1.05
        by_key = await a.series(RequestFilter(), 86_400, 30, NOW, "key")
        assert dict(by_key.by_group)["key_a"].requests == 3
        only_b = await a.series(RequestFilter(UsageFilter(key_id="key_b")), 60, 60, NOW, "key")
        assert only_b.overall.requests == 1

    run(database_url, rows, work)


def test_pages_sort_filter_and_count(database_url: str) -> None:
    rows = [
        row(NOW - timedelta(seconds=i), i, latency_ms=float(i), cost_nusd=i * 10)
        for i in range(1, 121)
    ]
    rows.append(row(NOW, 500, status=429, error_type="rate_limit_error", channel="q/other"))

    async def work(a: Activity) -> None:
        first = await a.page(RequestFilter(), "at", 0, 50)
        assert first.total == 121
        assert len(first.entries) == 50
        assert first.entries[0].request_id == "req_000500"
        third = await a.page(RequestFilter(), "at", 100, 50)
        assert [e.request_id for e in third.entries][-1] == "req_000120"
        slowest = await a.page(RequestFilter(), "latency", 0, 3)
        assert [e.latency_ms for e in slowest.entries] == [120.0, 119.0, 118.0]
        dearest = await a.page(RequestFilter(), "cost", 0, 1)
        assert dearest.entries[0].cost_usd == pytest.approx(1200 / 1e9)
        errors = await a.page(RequestFilter(outcome="error"), "at", 0, 50)
        assert [e.request_id for e in errors.entries] == ["req_000500"]
        assert (await a.page(RequestFilter(channel="q/other"), "at", 0, 50)).total == 1
        assert (await a.page(RequestFilter(outcome="ok"), "tokens", 0, 50)).total == 120
        found = await a.entry("req_000007")
        assert found is not None
        assert found.at == NOW - timedelta(seconds=7)
        assert await a.entry("req_missing") is None

    run(database_url, rows, work)


def test_key_activity_spend_per_period_and_last_use(database_url: str) -> None:
    rows = [
        row(NOW - timedelta(minutes=5), 1, cost_nusd=100),
        row(NOW - timedelta(days=1), 2, cost_nusd=20),  # this month, not today
        row(NOW - timedelta(days=40), 3, cost_nusd=3),  # neither
        row(NOW - timedelta(minutes=1), 4, key_id="key_b", cost_nusd=7),
    ]

    async def work(a: Activity) -> None:
        found = await a.key_activity(NOW)
        assert found["key_a"].spent_day_nusd == 100
        assert found["key_a"].spent_month_nusd == 120
        assert found["key_a"].spent_total_nusd == 123
        assert found["key_a"].last_used == NOW - timedelta(minutes=5)
        assert found["key_b"].last_used == NOW - timedelta(minutes=1)

    run(database_url, rows, work)
