"""What the handlers and the pipeline (service.Gateway) hand each other: where a request came
in (`Inlet`), the request as a handler decoded it (`Inbound`), and what the pipeline gives
back (`Completed`, a whole reply; `Streaming`, a stream that has produced its first item)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from switchboard import ir
from switchboard.errors import GatewayError
from switchboard.kinds import Dialect, Endpoint, ProviderKind
from switchboard.record import RequestRecord
from switchboard.tenancy.admission import Ticket
from switchboard.tenancy.auth import Principal
from switchboard.upstreams.base import EventStream, RelayStream


@dataclass(frozen=True, slots=True)
class Inlet:
    """What the pipeline needs of the surface a request came in by (api/surface.py): the
    endpoint its models must be offered on, and the provider kinds whose upstreams take its
    bodies as they are (the same wire format on both sides: relayed, not translated)."""

    endpoint: Endpoint
    relays: frozenset[ProviderKind] = frozenset()
    # A surface whose format only some providers of a kind speak (the Responses API) names
    # its dialect: those kinds relay it through their `Built.dialect_relays`, to the channels
    # that speak it.
    dialect: Dialect | None = None


class Inbound(msgspec.Struct):
    """A client request as the handler decoded it. `decode` gives the IR on demand, since a
    same-format pass-through never needs it."""

    inlet: Inlet
    body: bytes
    model: str
    stream: bool
    headers: Mapping[str, str]
    decode: Callable[[], ir.Request]
    usage_chunk: bool = False  # OpenAI: the client asked for the stream's usage chunk
    principal: Principal | None = None
    # The output limit the client set (None: none), and what a translation sends upstream for a
    # request without one (None: the dialect requires one).
    max_tokens: int | None = None
    default_max_tokens: int | None = None
    # A session or user id: requests that share it stick to one channel and key.
    affinity: str | None = None
    # What routing by scenario tests besides the name (routes.py): whether the request asks
    # for thinking, and its tools' types and names (read only if a route tests them).
    thinking: bool = False
    tools: Callable[[], frozenset[str]] = frozenset
    discount: float = 0.0  # the fraction of the price taken off (a batch's request)
    _request: ir.Request | None = None

    _documents_ready: bool = False

    def request(self) -> ir.Request:
        if self._request is None:
            self._request = self.decode()
        return self._request

    def input_estimate(self) -> int:
        # What limits reserve before routing: ~4 bytes of JSON per token, never a tokenizer.
        return max(1, len(self.body) // 4)


class Completed(msgspec.Struct):
    """The reply; the pipeline puts what it used, cost and dropped in the request's record."""

    usage: ir.Usage
    response: ir.Response | None = None  # translated: the handler encodes it
    raw: bytes | None = None  # passed through: already in the client's dialect
    dropped: Sequence[str] = ()  # what the translation dropped or changed


class Streaming(msgspec.Struct):
    """An upstream stream that has produced its first item. Items are IR event batches, or
    bytes already in the client's dialect (pass-through)."""

    record: RequestRecord
    first: list[ir.Event] | bytes
    source: EventStream | RelayStream
    rest: AsyncIterator[list[ir.Event]] | AsyncIterator[bytes]
    ticket: Ticket | None = None
    # Told when the stream fails after its first byte (the channel's health counts it).
    broke: Callable[[GatewayError], None] = lambda exc: None
    # What the translation drops or changes as the stream goes (a translated stream's loss
    # report: grows while it is read).
    notes: Sequence[str] = ()
    dropped: Sequence[str] = ()  # what encoding the request for the upstream dropped
    delivered: int = 0  # chunks sent to the client

    @property
    def usage(self) -> ir.Usage:
        return self.source.usage
