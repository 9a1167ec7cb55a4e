"""Prometheus metrics, in a registry of the app's own (never the process-global default one).

Request metrics are fed once per request from what the request log line already holds, at the
app's boundary; channel health and in-flight counts are read from their owners at scrape time,
so the hot path pays nothing for them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from switchboard.routing import Router

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_STATES = ("healthy", "cooldown", "half_open")
_TOKEN_KINDS = (
    ("input_tokens", "input"),
    ("output_tokens", "output"),
    ("cache_read_tokens", "cache_read"),
)


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


class Metrics:
    def __init__(self, router: Router, in_flight: Callable[[], tuple[int, int]]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "switchboard_requests",
            "Requests by served model, channel, status and error type",
            ["model", "channel", "status", "error_type"],
            registry=r,
        )
        self._latency = Histogram(
            "switchboard_request_duration_seconds",
            "Whole-request latency (until the last byte of a stream)",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._ttft = Histogram(
            "switchboard_time_to_first_token_seconds",
            "Time to the first streamed chunk sent to the client",
            ["model", "channel"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self._tokens = Counter(
            "switchboard_tokens", "Tokens by kind", ["model", "channel", "kind"], registry=r
        )
        self._retries = Counter(
            "switchboard_retries", "Attempts retried on the same channel", ["model"], registry=r
        )
        self._failovers = Counter(
            "switchboard_failovers", "Attempts moved to another channel", ["model"], registry=r
        )
        streams = Gauge("switchboard_streams_in_flight", "Streams being relayed", registry=r)
        streams.set_function(lambda: in_flight()[1])
        requests = Gauge("switchboard_requests_in_flight", "Requests being served", registry=r)
        requests.set_function(lambda: in_flight()[0])
        r.register(_Channels(router))
        # labels() resolves its child under a lock on every call; the children are kept here
        # by label tuple instead (bounded like the series themselves).
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, status: int, seconds: float, log: Mapping[str, Any]) -> None:
        """One finished request, from its log line. Only the served model id is a label (what
        clients send is unbounded); requests that never resolved one count as `none`."""
        model = str(log.get("model_id", "none"))
        channel = str(log.get("channel", "none"))
        error = str(log.get("error_type", ""))
        self._child(self._requests, model, channel, str(status), error).inc()
        self._child(self._latency, model).observe(seconds)
        ttft = log.get("ttft_ms")
        if ttft is not None:
            self._child(self._ttft, model, channel).observe(ttft / 1000)
        for field, kind in _TOKEN_KINDS:
            count = log.get(field)
            if count:
                self._child(self._tokens, model, channel, kind).inc(count)
        if log.get("retries"):
            self._retries.labels(model).inc(log["retries"])
        if log.get("failovers"):
            self._failovers.labels(model).inc(log["failovers"])

    def render(self) -> bytes:
        return generate_latest(self.registry)
