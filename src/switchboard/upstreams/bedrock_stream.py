"""A streamed Bedrock reply, InvokeModel's or Converse's: the AWS event-stream framing read as
events (`EventStreamFraming`, for the reading every stream shares: `FrameSource`), in-stream
failures mapped as the same failure over HTTP would be (`remap`: also used for HTTP errors),
and Converse's translated reader (`ConverseReader`). Claude's streams carry Anthropic's events
in `chunk`s, unwrapped here as they are read (`Carried`; bedrock_anthropic.py says how), for
anthropic.py's own readers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from switchboard import ir
from switchboard.config import ProviderConfig
from switchboard.dialects.aws_eventstream import EventMessage, EventStreamDecoder
from switchboard.dialects.bedrock_converse.errors import exception_status, upstream_error_message
from switchboard.dialects.bedrock_converse.stream import StreamDecoder
from switchboard.dialects.sse import SSEEvent
from switchboard.errors import UpstreamError
from switchboard.redact import Redactor
from switchboard.upstreams.http import EventSource
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import DecodingReader


@dataclass(frozen=True, slots=True)
class Carried:
    """How a stream's `chunk` messages carry its events (InvokeModel's): `unwrap` reads one
    chunk's payload (ValueError, KeyError or TypeError when it cannot: the upstream's failure,
    `why`); other event messages are passed over."""

    unwrap: Callable[[bytes], SSEEvent]
    why: str


def remap(exc: UpstreamError) -> UpstreamError:
    """Bedrock's own statuses that the generic mapping would call the client's mistake: a model
    that timed out (408) or failed (424) may do better on another try or channel."""
    if exc.upstream_status in (408, 424):
        exc.status, exc.error_type, exc.retryable = 502, "api_error", True
    return exc


class EventStreamFraming:
    """The AWS event-stream framing as events: each event message as its `:event-type` and
    payload, or as the event its `chunk` carries (`carried`). An exception or error message
    raises UpstreamError, mapped as the same exception over HTTP would be; when events came
    before it in the same read, they go out first and the failure waits in `failed`. A chunk
    that cannot be read raises UpstreamError; after events, it waits in `broken` for the reader,
    which meets it once it has read them, unless they ended the stream. A corrupt message raises
    EventStreamError (a ValueError)."""

    __slots__ = ("_carried", "_decoder", "_provider", "_redactor", "broken", "failed")

    def __init__(
        self, provider: ProviderConfig, redactor: Redactor, carried: Carried | None = None
    ) -> None:
        self._provider = provider
        self._redactor = redactor
        self._carried = carried
        self._decoder = EventStreamDecoder(provider.max_event_bytes)
        self.failed: UpstreamError | None = None
        self.broken: UpstreamError | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        carried = self._carried
        events: list[SSEEvent] = []
        for message in self._decoder.feed(chunk):
            if message.message_type != "event":
                if not events:
                    raise self._failure(message)
                # The events before it go out first; the failure ends the next read.
                self.failed = self._failure(message)
                return events
            if carried is None:
                events.append(SSEEvent(message.event_type, message.payload, b""))
            elif message.event_type == "chunk":
                try:
                    events.append(carried.unwrap(message.payload))
                except (ValueError, KeyError, TypeError):
                    broken = UpstreamError.malformed(self._provider.name, carried.why)
                    if not events:
                        raise broken from None
                    self.broken = broken
                    return events
        return events

    def flush(self) -> list[SSEEvent]:
        if self._decoder.pending:
            raise UpstreamError.malformed(self._provider.name, "the stream ended inside a message")
        return []

    def _failure(self, message: EventMessage) -> UpstreamError:
        headers = message.headers
        if message.message_type == "exception":
            kind = headers.get(":exception-type", "exception")
            text = upstream_error_message(message.payload)
        else:  # "error": the framing's own error, its code and message in headers
            kind = headers.get(":error-code", "error")
            text = headers.get(":error-message", "")
        text = self._redactor.upstream(f"{kind}: {text}")
        return remap(
            UpstreamError.from_status(
                exception_status(kind), f"error in stream: {text}", provider=self._provider.name
            )
        )


class FrameSource(EventSource):
    """A streamed Bedrock reply's events: read as every stream is (EventSource), in the
    event-stream framing; a failure that came after events in one read ends the next."""

    __slots__ = ("_framing",)

    def __init__(self, provider: ProviderConfig, resp: Reply, framing: EventStreamFraming) -> None:
        super().__init__(provider, resp, framing)
        self._framing = framing

    async def read(self) -> list[SSEEvent] | None:
        if self._framing.failed is not None:
            raise self._framing.failed
        return await super().read()


class ConverseReader(DecodingReader[StreamDecoder]):
    """A translated Converse stream: its events decoded into IR batches."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        decoder = self._decoder
        batch: list[ir.Event] = []
        for event in events:
            try:
                batch += decoder.feed(event.event or "", event.data)
            except UpstreamError as exc:  # a malformed event: its message may quote the bytes
                raise self._redactor.error(exc) from None
            if decoder.finished:
                self.done = True
                break
        return batch

    def end(self) -> list[ir.Event]:
        return self._decoder.finish()
