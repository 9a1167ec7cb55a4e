"""Traces of requests through the gateway into the upstream (OpenTelemetry), off by default.

What the rest of the gateway sees is `Tracing`: a request span around each metered request,
child spans for its phases (admission, each upstream attempt, settlement), and the trace
context to send upstream. `NO_TRACING` does nothing and costs a shared no-op context manager
per phase; the OpenTelemetry SDK (tracing/otel.py) is imported only when the operator turns
telemetry on, so a gateway without it neither loads nor pays for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from switchboard.catalog import Channel
    from switchboard.record import RequestRecord


class TelemetryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`telemetry:` in the config. No `otlp_endpoint`: off."""

    # The OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces.
    otlp_endpoint: str = ""
    service_name: str = "switchboard"
    # The share of requests traced when the client sent no sampled `traceparent` (a sampled
    # parent is always followed, an unsampled one never).
    sample_ratio: float = 1.0
    # Sent with every export (an authorization header for a hosted collector): a secret.
    headers: dict[str, str] = {}
    # Prompt and completion text in spans: off unless the operator asks.
    capture_content: bool = False
    # Seconds between exports of finished spans.
    export_interval: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.otlp_endpoint)


NOTHING: AbstractContextManager[None] = nullcontext()


class Tracing:
    """The interface, doing nothing: what a gateway with telemetry off runs."""

    enabled = False

    def request(self, headers: Mapping[str, str], route: str) -> object | None:
        """Starts the span of one request (a child of the client's `traceparent`, if any) and
        makes it current; `finish` ends it. None: not traced."""
        return None

    def finish(self, span: object, record: RequestRecord, status: int) -> None:
        """Ends a request span with what its record says: model, provider, usage, status."""

    def phase(self, name: str) -> AbstractContextManager[None]:
        """A child span of the current one for a phase of the pipeline."""
        return NOTHING

    def attempt(self, channel: Channel, record: RequestRecord) -> AbstractContextManager[None]:
        """A child span for one upstream attempt; a failure marks it (type and status only)."""
        return NOTHING

    def upstream_headers(self) -> Mapping[str, str]:
        """The trace context (`traceparent`) of the current span, for the upstream request."""
        return {}

    def content(self, name: str, text: bytes) -> None:
        """Prompt or completion text on the current request span, when the operator asked."""

    async def close(self) -> None:
        """Exports what is left."""


NO_TRACING = Tracing()


def start_tracing(config: TelemetryConfig, redact: Callable[[str], str]) -> Tracing:
    """The tracing `config` asks for: NO_TRACING when off, else OpenTelemetry's. `redact`
    masks secrets in what content capture puts in a span."""
    if not config.enabled:
        return NO_TRACING
    from switchboard.tracing.otel import OtelTracing

    return OtelTracing(config, redact)
