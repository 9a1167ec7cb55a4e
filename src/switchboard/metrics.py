"""Prometheus metrics, in a registry of the app's own (never the process-global default one).

Request metrics are fed once per request from its record (record.py), at the app's boundary,
into plain numbers (`_Requests`) that become metric families when scraped: prometheus_client's
own counters and histograms take a lock per update, a third of the cost of a request's
metrics. Channel health and in-flight counts are read from their owners at scrape
time, so the hot path pays nothing for them."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from switchboard.record import RequestRecord
from switchboard.routing import Router
from switchboard.tenancy.recorder import LedgerWriter

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_STATES = ("healthy", "cooldown", "half_open")


class _Channels(Collector):
    """Channel health, read from the router when scraped."""

    def __init__(self, router: Router) -> None:
        self._router = router

    def collect(self) -> Iterable[Metric]:
        state = GaugeMetricFamily(
            "switchboard_channel_state",
            "1 for the state each channel key is in (healthy, cooldown, half_open)",
            labels=["channel", "key", "state"],
        )
        failures = CounterMetricFamily(
            "switchboard_channel_failures",
            "Failed attempts per channel key (retryable upstream failures)",
            labels=["channel", "key"],
        )
        successes = CounterMetricFamily(
            "switchboard_channel_successes",
            "Successful attempts per channel key",
            labels=["channel", "key"],
        )
        for row in self._router.snapshot():
            channel, key = row.channel, str(row.key)
            for name in _STATES:
                state.add_metric([channel, key, name], 1.0 if row.state == name else 0.0)
            failures.add_metric([channel, key], row.failures)
            successes.add_metric([channel, key], row.successes)
        return [state, failures, successes]


class _Ledger(Collector):
    """The ledger writer's counters and its journal, read when scraped."""

    _COUNTERS = (
        ("written", "switchboard_ledger_rows_written", "Usage rows stored in the database"),
        (
            "journaled",
            "switchboard_ledger_rows_journaled",
            "Usage rows written to the local journal because the database did not take them",
        ),
        ("replayed", "switchboard_ledger_rows_replayed", "Journal rows replayed into the database"),
        (
            "rejected",
            "switchboard_ledger_rows_rejected",
            "Usage rows the database refused even alone (kept in the journal's .rejected file)",
        ),
        (
            "write_failures",
            "switchboard_ledger_write_failures",
            "Failed writes of usage rows to the database (each retried or journaled)",
        ),
        (
            "journal_failures",
            "switchboard_ledger_journal_failures",
            "Failed appends to the journal (the rows are held in memory)",
        ),
    )

    def __init__(self, writer: LedgerWriter) -> None:
        self._writer = writer

    def collect(self) -> Iterable[Metric]:
        w = self._writer
        found: list[Metric] = [
            CounterMetricFamily(name, doc, value=getattr(w.stats, field))
            for field, name, doc in self._COUNTERS
        ]
        found.append(
            GaugeMetricFamily(
                "switchboard_ledger_journal_bytes",
                "Bytes of usage rows waiting in the journal to be replayed",
                value=w.journal.size(),
            )
        )
        found.append(
            GaugeMetricFamily(
                "switchboard_ledger_rows_held",
                "Usage rows held in memory: neither the database nor the journal took them",
                value=len(w.held),
            )
        )
        found.append(
            GaugeMetricFamily(
                "switchboard_ledger_accepting",
                "1 while usage can be recorded; 0 while billable requests are refused (529)",
                value=1.0 if w.accepting else 0.0,
            )
        )
        return found


class _Histogram:
    """Bucket counts for one series; cumulative only when scraped."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # the last one is +Inf
        self.total = 0.0

    def family_row(self, bounds: tuple[float, ...]) -> tuple[list[tuple[str, float]], float]:
        rows: list[tuple[str, float]] = []
        seen = 0
        for bound, count in zip((*map(floatToGoString, bounds), "+Inf"), self.counts, strict=True):
            seen += count
            rows.append((bound, seen))
        return rows, self.total


class _Requests(Collector):
    """What requests did, as plain numbers keyed by their labels."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str, str], int] = defaultdict(int)
        self.tokens: defaultdict[tuple[str, str, str], int] = defaultdict(int)
        self.retries: defaultdict[str, int] = defaultdict(int)
        self.failovers: defaultdict[str, int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.ttft: dict[tuple[str, str], _Histogram] = {}

    @staticmethod
    def observe(
        into: dict[Any, _Histogram], key: Any, bounds: tuple[float, ...], value: float
    ) -> None:
        found = into.get(key)
        if found is None:
            found = into[key] = _Histogram(len(bounds))
        found.counts[bisect.bisect_left(bounds, value)] += 1
        found.total += value

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "switchboard_requests",
            "Requests by served model, channel, status and error type",
            labels=["model", "channel", "status", "error_type"],
        )
        for labels, count in list(self.requests.items()):
            requests.add_metric(list(labels), count)
        latency = HistogramMetricFamily(
            "switchboard_request_duration_seconds",
            "Whole-request latency (until the last byte of a stream)",
            labels=["model"],
        )
        for model, h in list(self.latency.items()):
            latency.add_metric([model], *h.family_row(_LATENCY_BUCKETS))
        ttft = HistogramMetricFamily(
            "switchboard_time_to_first_token_seconds",
            "Time to the first streamed chunk sent to the client",
            labels=["model", "channel"],
        )
        for (model, channel), h in list(self.ttft.items()):
            ttft.add_metric([model, channel], *h.family_row(_TTFT_BUCKETS))
        tokens = CounterMetricFamily(
            "switchboard_tokens", "Tokens by kind", labels=["model", "channel", "kind"]
        )
        for token_labels, count in list(self.tokens.items()):
            tokens.add_metric(list(token_labels), count)
        retries = CounterMetricFamily(
            "switchboard_retries", "Attempts retried on the same channel", labels=["model"]
        )
        for model, count in list(self.retries.items()):
            retries.add_metric([model], count)
        failovers = CounterMetricFamily(
            "switchboard_failovers", "Attempts moved to another channel", labels=["model"]
        )
        for model, count in list(self.failovers.items()):
            failovers.add_metric([model], count)
        return [requests, latency, ttft, tokens, retries, failovers]


class Metrics:
    def __init__(
        self,
        router: Router,
        in_flight: Callable[[], tuple[int, int]],
        ledger: LedgerWriter | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        if ledger is not None:
            r.register(_Ledger(ledger))
        self._seen = _Requests()
        r.register(self._seen)
        streams = Gauge("switchboard_streams_in_flight", "Streams being relayed", registry=r)
        streams.set_function(lambda: in_flight()[1])
        requests = Gauge("switchboard_requests_in_flight", "Requests being served", registry=r)
        requests.set_function(lambda: in_flight()[0])
        r.register(_Channels(router))

    def observe(self, status: int, seconds: float, record: RequestRecord) -> None:
        """One finished request, from its record. Only the served model id is a label (what
        clients send is unbounded); requests that never resolved one count as `none`."""
        seen = self._seen
        if record.model_id is None:
            model = channel = "none"
        else:
            model, channel = record.model_id, record.channel
        seen.requests[(model, channel, str(status), record.error_type or "")] += 1
        seen.observe(seen.latency, model, _LATENCY_BUCKETS, seconds)
        if record.ttft_ms is not None:
            seen.observe(seen.ttft, (model, channel), _TTFT_BUCKETS, record.ttft_ms / 1000)
        usage = record.usage
        if usage is not None:
            if usage.input_tokens:
                seen.tokens[(model, channel, "input")] += usage.input_tokens
            if usage.output_tokens:
                seen.tokens[(model, channel, "output")] += usage.output_tokens
            if usage.cache_read_tokens:
                seen.tokens[(model, channel, "cache_read")] += usage.cache_read_tokens
        if record.retries:
            seen.retries[model] += record.retries
        if record.failovers:
            seen.failovers[model] += record.failovers

    def render(self) -> bytes:
        return generate_latest(self.registry)
