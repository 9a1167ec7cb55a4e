"""A streamed Bedrock reply, InvokeModel's or Converse's: the AWS event-stream messages read
(`FrameSource`), in-stream failures mapped as the same failure over HTTP would be (`remap`: also
used for HTTP errors), and the translated reader (`EventReader`) over either half's decoder."""

from __future__ import annotations

from typing import Protocol

from switchboard import ir
from switchboard.config import ProviderConfig
from switchboard.dialects.aws_eventstream import EventMessage, EventStreamDecoder, EventStreamError
from switchboard.dialects.bedrock_converse.errors import exception_status, upstream_error_message
from switchboard.dialects.sse import SSEEvent
from switchboard.errors import UpstreamError
from switchboard.redact import Redactor
from switchboard.upstreams.connection import ConnectionFailed, ReplyTimeout
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import DecodingReader


def remap(exc: UpstreamError) -> UpstreamError:
    """Bedrock's own statuses that the generic mapping would call the client's mistake: a model
    that timed out (408) or failed (424) may do better on another try or channel."""
    if exc.upstream_status in (408, 424):
        exc.status, exc.error_type, exc.retryable = 502, "api_error", True
    return exc


class FrameSource:
    """A streamed reply's event-stream messages, one upstream read at a time, each as an event
    (its `:event-type` and payload) for UpstreamStream's readers. Exception and error messages
    raise UpstreamError, mapped as the same exception over HTTP would be."""

    __slots__ = ("_decoder", "_ended", "_failed", "_provider", "_redactor", "_resp", "name")

    def __init__(self, provider: ProviderConfig, resp: Reply, redactor: Redactor) -> None:
        self._provider = provider
        self.name = provider.name
        self._resp = resp
        self._redactor = redactor
        self._decoder = EventStreamDecoder(provider.max_event_bytes)
        self._ended = False
        self._failed: UpstreamError | None = None

    async def read(self) -> list[SSEEvent] | None:
        if self._failed is not None:
            raise self._failed
        if self._ended:
            return None
        name = self._provider.name
        try:
            chunk = await self._resp.chunk()
        except ReplyTimeout as exc:
            raise UpstreamError.timed_out(name, str(exc)) from None
        except ConnectionFailed as exc:
            raise UpstreamError.unreachable(name, str(exc)) from None
        if not chunk:
            self._ended = True
            if self._decoder.pending:
                raise UpstreamError.malformed(name, "the stream ended inside a message")
            return None
        try:
            messages = self._decoder.feed(chunk)
        except EventStreamError as exc:
            self._resp.close()
            raise UpstreamError.malformed(name, str(exc)) from None
        events: list[SSEEvent] = []
        for message in messages:
            if message.message_type != "event":
                if not events:
                    raise self._failure(message)
                # The events before it go out first; the failure ends the next read.
                self._failed = self._failure(message)
                return events
            events.append(SSEEvent(message.event_type, message.payload, b""))
        return events

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

    def close(self) -> None:
        self._resp.release()


class Decoder(Protocol):
    """What EventReader feeds: Converse's decoder, or bedrock_anthropic's AnthropicChunks."""

    @property
    def finished(self) -> bool: ...

    @property
    def usage(self) -> ir.Usage: ...

    @property
    def notes(self) -> list[str]: ...

    def feed(self, event_type: str, payload: bytes) -> list[ir.Event]: ...

    def finish(self) -> list[ir.Event]: ...


class EventReader(DecodingReader[Decoder]):
    """A translated stream: Converse events, or Claude's chunks, decoded into IR batches."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        decoder = self._decoder
        batch: list[ir.Event] = []
        for event in events:
            try:
                batch += decoder.feed(event.event or "", event.data)
            except UpstreamError as exc:  # an in-stream `error` event, in Claude's words
                raise self._redactor.error(exc) from None
            if decoder.finished:
                self.done = True
                break
        return batch

    def end(self) -> list[ir.Event]:
        return self._decoder.finish()
