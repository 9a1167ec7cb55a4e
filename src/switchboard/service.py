"""The one pipeline: resolve the model -> authorize the key and reserve its limits -> pick a
channel -> call the upstream (failing over to the next channel before the first byte) -> report
what was served and what it cost -> settle the limits with the real usage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from switchboard import ir
from switchboard.admission import Admission, Headers, Ticket
from switchboard.auth import Principal
from switchboard.catalog import Catalog, Channel, ModelEntry
from switchboard.config import Endpoint
from switchboard.errors import GatewayError, NotFound, UpstreamError
from switchboard.log import events as log
from switchboard.upstreams.anthropic import AnthropicUpstream
from switchboard.upstreams.base import Call, EventStream, Forward, RelayStream, Upstream
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.openai import OpenAIUpstream
from switchboard.upstreams.scripted import ScriptedUpstream

T = TypeVar("T")


@dataclass(slots=True)
class Inbound:
    """A client request as the handler decoded it. `decode` gives the IR on demand, since a
    same-format pass-through never needs it."""

    dialect: Literal["anthropic"]
    body: bytes
    model: str
    stream: bool
    headers: Mapping[str, str]
    decode: Callable[[], ir.Request]
    principal: Principal | None = None
    max_tokens: int = 0
    _request: ir.Request | None = None

    def request(self) -> ir.Request:
        if self._request is None:
            self._request = self.decode()
        return self._request

    def input_estimate(self) -> int:
        # Never tokenize on the hot path: ~4 bytes of JSON per token is an honest first guess.
        return max(1, len(self.body) // 4)


@dataclass(slots=True)
class Served:
    """What the handler needs besides the reply itself: for headers and the request log."""

    model: str
    channel: str = ""
    dropped: list[str] = field(default_factory=list)
    failovers: int = 0
    headers: Headers = field(default_factory=list)  # the key's rate-limit state


@dataclass(slots=True)
class Completed:
    served: Served
    usage: ir.Usage
    response: ir.Response | None = None  # translated: the handler encodes it
    raw: bytes | None = None  # passed through: already in the client's dialect
    cost_nusd: int = 0


@dataclass(slots=True)
class Streaming:
    """An upstream stream that has produced its first item. Items are IR event batches, or
    bytes already in the client's dialect (pass-through)."""

    served: Served
    first: list[ir.Event] | bytes
    source: EventStream | RelayStream
    rest: AsyncIterator[list[ir.Event]] | AsyncIterator[bytes]
    ticket: Ticket | None = None

    @property
    def usage(self) -> ir.Usage:
        return self.source.usage


class Gateway:
    def __init__(
        self, catalog: Catalog, http: HttpClient, admission: Admission | None = None
    ) -> None:
        self.catalog = catalog
        self._admission = admission
        self._translated: dict[str, Upstream] = {
            "openai": OpenAIUpstream(http),
            "scripted": ScriptedUpstream(),
        }
        self._anthropic = AnthropicUpstream(http)

    def resolve(self, name: str, endpoint: Endpoint) -> ModelEntry:
        entry = self.catalog.resolve(name)
        if entry is None or endpoint not in entry.profile.endpoints:
            raise NotFound(f"model: {name}", param="model")
        return entry

    async def _admit(self, inbound: Inbound, entry: ModelEntry, served: Served) -> Ticket:
        if self._admission is None or inbound.principal is None:
            return Ticket(entry.profile.pricing)
        ticket = await self._admission.admit(
            inbound.principal, inbound.model, entry, inbound.input_estimate(), inbound.max_tokens
        )
        served.headers = ticket.headers
        return ticket

    @staticmethod
    async def _release(ticket: Ticket, exc: BaseException) -> None:
        """A request that failed costs nothing; its error still carries the key's limits."""
        await ticket.settle(None)
        if isinstance(exc, GatewayError) and not exc.extra_headers:
            exc.extra_headers = ticket.headers

    def _passthrough(self, inbound: Inbound, channel: Channel) -> bool:
        return inbound.dialect == channel.provider.kind

    def _call(self, inbound: Inbound, entry: ModelEntry, channel: Channel) -> Call:
        return Call(inbound.request(), channel, entry.profile, inbound.input_estimate())

    def _forward(self, inbound: Inbound, channel: Channel) -> Forward:
        return Forward(inbound.body, inbound.model, channel, inbound.headers)

    async def _failover(
        self, entry: ModelEntry, served: Served, attempt: Callable[[Channel], Awaitable[T]]
    ) -> T:
        """Try the channels in order; move on only for failures another channel may not have,
        and only before anything reached the client."""
        last: UpstreamError | None = None
        for channel in entry.channels:
            served.channel = f"{channel.provider.name}/{channel.model}"
            try:
                return await attempt(channel)
            except UpstreamError as exc:
                if not exc.retryable:
                    raise
                last = exc
                served.failovers += 1
                log.warning(
                    "channel %s failed (%s %s), trying the next one",
                    served.channel,
                    exc.upstream_status,
                    exc.error_type,
                )
        assert last is not None, "a model always has at least one channel"
        served.failovers -= 1
        raise last

    async def complete(self, inbound: Inbound) -> Completed:
        entry = self.resolve(inbound.model, inbound.dialect)
        served = Served(model=entry.id)

        async def attempt(channel: Channel) -> Completed:
            if self._passthrough(inbound, channel):
                relayed = await self._anthropic.forward(self._forward(inbound, channel))
                return Completed(served, relayed.usage, raw=relayed.body)
            upstream = self._translated[channel.provider.kind]
            done = await upstream.complete(self._call(inbound, entry, channel))
            served.dropped = done.dropped
            return Completed(served, done.response.usage, response=done.response)

        ticket = await self._admit(inbound, entry, served)
        try:
            completed = await self._failover(entry, served, attempt)
        except BaseException as exc:
            await self._release(ticket, exc)
            raise
        completed.cost_nusd = await ticket.settle(completed.usage)
        return completed

    async def stream(self, inbound: Inbound) -> Streaming:
        entry = self.resolve(inbound.model, inbound.dialect)
        served = Served(model=entry.id)

        async def attempt(channel: Channel) -> Streaming:
            # The first item is part of the attempt: a stream that fails before it can still
            # go to another channel, since the client has seen nothing yet.
            if self._passthrough(inbound, channel):
                relay = await self._anthropic.forward_stream(self._forward(inbound, channel))
                raw = aiter(relay)
                return Streaming(served, await _first(relay, raw), relay, raw)
            upstream = self._translated[channel.provider.kind]
            source = await upstream.stream(self._call(inbound, entry, channel))
            served.dropped = source.dropped
            batches = aiter(source)
            return Streaming(served, await _first(source, batches), source, batches)

        ticket = await self._admit(inbound, entry, served)
        try:
            streaming = await self._failover(entry, served, attempt)
        except BaseException as exc:
            await self._release(ticket, exc)
            raise
        streaming.ticket = ticket
        return streaming

    async def settle(self, streaming: Streaming, failed: bool) -> int:
        """After the stream: a cut stream pays for what was generated, a failed one nothing."""
        if streaming.ticket is None:
            return 0
        return await streaming.ticket.settle(None if failed else streaming.usage)


async def _first(source: EventStream | RelayStream, iterator: AsyncIterator[T]) -> T:
    try:
        return await anext(iterator)
    except BaseException:
        await source.aclose()
        raise
