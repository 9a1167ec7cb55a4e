"""Tracing with the OpenTelemetry SDK and its OTLP/HTTP exporter (imported only when on).

Spans follow the GenAI semantic conventions: the request span is `chat {model}` (server),
each upstream attempt `chat {upstream model}` (client) with `gen_ai.provider.name`, and the
request span ends with the usage and the model that answered. Context comes in through
`traceparent` (W3C) and goes out with each upstream request, the attempt span as its parent.
No content is put in a span unless `capture_content` is set, and then only after the gateway's
redactor has masked the secrets in it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from switchboard.errors import GatewayError, UpstreamError
from switchboard.tracing import NOTHING, TelemetryConfig, Tracing

if TYPE_CHECKING:
    from switchboard.catalog import Channel
    from switchboard.record import RequestRecord

# Content put in a span is cut here: a span is not a place for a 20 MB prompt.
MAX_CONTENT = 16 * 1024
_OPERATION = "chat"


class _Started:
    """A request span and the context token that made it current."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span, token: object) -> None:
        self.span = span
        self.token = token


class OtelTracing(Tracing):
    enabled = True

    def __init__(self, config: TelemetryConfig, redact: Callable[[str], str]) -> None:
        self._config = config
        self._redact = redact
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": config.service_name}),
            sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
        )
        exporter = OTLPSpanExporter(endpoint=config.otlp_endpoint, headers=dict(config.headers))
        self._provider.add_span_processor(
            BatchSpanProcessor(exporter, schedule_delay_millis=config.export_interval * 1000)
        )
        # The gateway's own tracer, not the process-wide one: no global state to set.
        self._tracer = self._provider.get_tracer("switchboard")
        self._propagator = TraceContextTextMapPropagator()

    def request(self, headers: Mapping[str, str], route: str) -> object | None:
        parent = self._propagator.extract(headers) if "traceparent" in headers else None
        span = self._tracer.start_span(
            _OPERATION,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"gen_ai.operation.name": _OPERATION, "http.route": route},
        )
        # Current even when not sampled: its context still goes upstream, sampled flag off.
        return _Started(span, otel_context.attach(trace.set_span_in_context(span, parent)))

    def finish(self, started: object, record: RequestRecord, status: int) -> None:
        assert isinstance(started, _Started)
        span = started.span
        try:
            if span.is_recording():
                _describe(span, record, status)
            span.end()
        finally:
            otel_context.detach(started.token)  # type: ignore[arg-type]

    def phase(self, name: str) -> AbstractContextManager[None]:
        if not trace.get_current_span().is_recording():
            return NOTHING  # a request not sampled: its children would not be either
        return self._span(name, SpanKind.INTERNAL, {})

    def attempt(self, channel: Channel, record: RequestRecord) -> AbstractContextManager[None]:
        if not trace.get_current_span().is_recording():
            return NOTHING
        attributes = {
            "gen_ai.operation.name": _OPERATION,
            "gen_ai.provider.name": channel.provider.name,
            "gen_ai.request.model": channel.model,
            "switchboard.provider.kind": str(channel.provider.kind),
        }
        return self._span(f"{_OPERATION} {channel.model}", SpanKind.CLIENT, attributes)

    @contextmanager
    def _span(self, name: str, kind: SpanKind, attributes: Mapping[str, str]) -> Iterator[None]:
        # Exceptions are marked by hand: the SDK's own recording would put the message, which
        # may quote an upstream's text, in the span.
        with self._tracer.start_as_current_span(
            name,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except GatewayError as exc:
                if span.is_recording():
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", exc.error_type)
                    if isinstance(exc, UpstreamError) and exc.upstream_status:
                        span.set_attribute("http.response.status_code", exc.upstream_status)
                raise
            except BaseException as exc:
                if span.is_recording():
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", type(exc).__name__)
                raise

    def upstream_headers(self) -> Mapping[str, str]:
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    def content(self, name: str, text: bytes) -> None:
        if not self._config.capture_content:
            return
        span = trace.get_current_span()
        if span.is_recording():
            cut = text[:MAX_CONTENT].decode("utf-8", "replace")
            span.set_attribute(name, self._redact(cut))

    async def close(self) -> None:
        # shutdown() flushes the batch and joins the export thread: off the event loop.
        await asyncio.get_running_loop().run_in_executor(None, self._provider.shutdown)


def _describe(span: Span, record: RequestRecord, status: int) -> None:
    """The request span's attributes, from the request's record."""
    if record.model is not None:
        span.update_name(f"{_OPERATION} {record.model}")
        span.set_attribute("gen_ai.request.model", record.model)
    if record.upstream_model:
        span.set_attribute("gen_ai.response.model", record.upstream_model)
        span.set_attribute("gen_ai.provider.name", record.provider)
        span.set_attribute("switchboard.channel", record.channel)
    if record.model_id is not None:
        span.set_attribute("switchboard.model_id", record.model_id)
    if record.stream is not None:
        span.set_attribute("gen_ai.request.stream", record.stream)
    if record.key_id is not None:
        span.set_attribute("switchboard.key_id", record.key_id)
    usage = record.usage
    if usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
        if usage.cache_read_tokens:
            span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens)
        if usage.cache_write_tokens:
            span.set_attribute("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens)
    span.set_attribute("switchboard.cost_usd", record.cost_nusd / 1e9)
    span.set_attribute("switchboard.failovers", record.failovers)
    span.set_attribute("switchboard.retries", record.retries)
    if record.ttft_ms is not None:
        span.set_attribute("switchboard.ttft_ms", record.ttft_ms)
    if record.dropped:
        span.set_attribute("switchboard.dropped", len(record.dropped))
    if record.client_disconnected:
        span.set_attribute("switchboard.client_disconnected", True)
    span.set_attribute("http.response.status_code", status)
    if record.error_type is not None:
        span.set_attribute("error.type", record.error_type)
    if status >= 500 or record.error_type is not None:
        span.set_status(Status(StatusCode.ERROR))
