"""One upstream stream, whatever its dialect and whether it is translated or relayed: SSE events
read from the reply, handed to a dialect's `Reader`, which turns each read's events into one
item (a batch of IR events, or bytes in the client's dialect), reads the usage, maps in-stream
errors (through the redactor: upstream text may quote a key) and says when the stream is done.

The readers are the small parts that differ; the loop, the usage, the loss report and closing
are the same for all four (Anthropic and OpenAI, translated and relayed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Generic, Protocol, TypeVar

from switchboard import ir
from switchboard.config import ProviderConfig
from switchboard.dialects.sse import SSEEvent
from switchboard.redact import Redactor
from switchboard.upstreams.http import EventSource
from switchboard.upstreams.reply import Reply

T = TypeVar("T")
NO_NOTES: list[str] = []  # a relay's loss report: shared, never written
T_co = TypeVar("T_co", covariant=True)


class Reader(Protocol[T_co]):
    """A dialect's part of a stream."""

    @property
    def usage(self) -> ir.Usage:
        """What the upstream reported so far (what a cut stream is charged for)."""
        ...

    @property
    def notes(self) -> list[str]:
        """What translation dropped or changed so far (nothing, for a relay)."""
        ...

    @property
    def done(self) -> bool:
        """The stream's last event has been read."""
        ...

    def take(self, events: list[SSEEvent]) -> T_co:
        """The item one read's events make (empty: nothing to send)."""
        ...

    def end(self) -> T_co:
        """The upstream ended the stream before `done`: the last item, or the error."""
        ...


class Decoding(Protocol):
    """What a dialect's stream decoder tells its reader."""

    @property
    def usage(self) -> ir.Usage: ...

    @property
    def notes(self) -> list[str]: ...


class Relaying(Protocol):
    """What a dialect's stream relay tells its reader."""

    @property
    def usage(self) -> ir.Usage: ...


D = TypeVar("D", bound=Decoding)
R = TypeVar("R", bound=Relaying)


class DecodingReader(Generic[D]):
    """The part every translating reader shares: its dialect's decoder (the usage and the loss
    report), the redactor for in-stream errors, and whether the stream is done. A dialect adds
    `take` and `end`."""

    __slots__ = ("_decoder", "_redactor", "done")

    def __init__(self, decoder: D, redactor: Redactor) -> None:
        self._decoder = decoder
        self._redactor = redactor
        self.done = False

    @property
    def usage(self) -> ir.Usage:
        return self._decoder.usage

    @property
    def notes(self) -> list[str]:
        return self._decoder.notes


class RelayingReader(Generic[R]):
    """The part every relaying reader shares: the provider's name (for malformed streams), its
    dialect's relay (the usage read on the way), the redactor, and whether the stream is done.
    A relay drops nothing: its loss report is always empty."""

    __slots__ = ("_name", "_redactor", "_relay", "done")

    notes = NO_NOTES

    def __init__(self, name: str, relay: R, redactor: Redactor) -> None:
        self._name = name
        self._relay = relay
        self._redactor = redactor
        self.done = False

    @property
    def usage(self) -> ir.Usage:
        return self._relay.usage


class Source(Protocol):
    """Where a stream's events come from: the reply read by EventSource (http.py), in SSE or
    another framing read as events (Bedrock's event stream: each message's type and payload)."""

    async def read(self) -> list[SSEEvent] | None:
        """The events of the next read ([] when it completed none); None after the end."""
        ...

    def close(self) -> None: ...


class UpstreamStream(Generic[T]):
    """Items from an upstream's stream, one per upstream read."""

    __slots__ = ("_reader", "_source", "dropped")

    def __init__(
        self,
        provider: ProviderConfig,
        resp: Reply,
        reader: Reader[T],
        dropped: Sequence[str] = (),
        *,
        source: Source | None = None,
    ) -> None:
        self._reader = reader
        self._source: Source = EventSource(provider, resp) if source is None else source
        self.dropped = dropped  # what encoding the request for this upstream dropped

    @property
    def usage(self) -> ir.Usage:
        return self._reader.usage

    @property
    def notes(self) -> list[str]:
        return self._reader.notes

    async def __aiter__(self) -> AsyncIterator[T]:
        reader, source = self._reader, self._source
        while (events := await source.read()) is not None:
            item = reader.take(events)
            if reader.done:
                yield item
                return
            if item:
                yield item
        yield reader.end()

    async def aclose(self) -> None:
        self._source.close()
