"""The one pipeline: resolve the model -> authorize the key and reserve its limits -> plan the
channels (routing.py) -> call the upstream (failing over to the next channel, then backing off
and retrying, before the first byte) -> report what was served and what it cost -> settle the
limits with the real usage."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

import msgspec

from switchboard import betas, ir
from switchboard.catalog import Catalog, Channel, ModelEntry
from switchboard.config import Documents, Routing, Search
from switchboard.counting import Calibration, estimate_tokens
from switchboard.errors import GatewayError, NotFound, UpstreamError
from switchboard.kinds import Dialect, Endpoint, ProviderKind
from switchboard.log import events as log
from switchboard.pipeline import Completed, Inbound, Inlet, Streaming
from switchboard.record import FAILED, Failed, RequestRecord, Served, Settlement
from switchboard.routes import Routes, Scenario, base_name
from switchboard.routing import Router, Target
from switchboard.servertools import ServerTools
from switchboard.signing import ThinkingSigner
from switchboard.tenancy.admission import UNPRICED, Admission, Ticket, output_limit
from switchboard.tenancy.usage import discounted
from switchboard.tracing import NO_TRACING, Tracing
from switchboard.upstreams.base import (
    Call,
    CountsRelayed,
    CountsTranslated,
    Embeds,
    EventStream,
    Forward,
    PassThrough,
    RelayStream,
    Upstream,
)
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.registry import UPSTREAMS, DialectRelay, Factory, Parts
from switchboard.url_documents import with_fetched_documents

T = TypeVar("T")


class Gateway:
    def __init__(
        self,
        catalog: Catalog,
        http: HttpClient,
        signer: ThinkingSigner,
        admission: Admission | None = None,
        documents: Documents | None = None,
        routing: Routing | None = None,
        upstreams: Mapping[ProviderKind, Factory] = UPSTREAMS,
        search: Search | None = None,
        *,
        routes: Routes | None = None,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self.catalog = catalog
        self.routes = routes or Routes()
        self._tracing = tracing
        self._admission = admission
        self._routing = routing or Routing()
        self.router = Router(catalog, self._routing.health)
        self._documents = documents or Documents()
        # Web search and fetch for upstreams that have no server tools (servertools/).
        self._server_tools = ServerTools(search, self._documents)
        # One upstream per registered kind (upstreams/registry.py), and what each can do
        # besides translating: relay same-format traffic, count tokens exactly.
        parts = Parts(http, signer)
        self._translated: dict[ProviderKind, Upstream] = {}
        self._relays: dict[ProviderKind, PassThrough] = {}
        # Kinds that relay some of their channels only, and which.
        self._relays_channel: dict[ProviderKind, Callable[[Channel], bool]] = {}
        self._count_relayed: dict[ProviderKind, CountsRelayed] = {}
        self._count_translated: dict[ProviderKind, CountsTranslated] = {}
        self._embeds: dict[ProviderKind, Embeds] = {}
        self._dialect_relays: dict[tuple[ProviderKind, Dialect], DialectRelay] = {}
        for kind, factory in upstreams.items():
            built = factory(parts)
            self._translated[kind] = built.upstream
            for dialect, relay in built.dialect_relays.items():
                self._dialect_relays[kind, dialect] = relay
            if built.relay is not None:
                self._relays[kind] = built.relay
                if built.relays_channel is not None:
                    self._relays_channel[kind] = built.relays_channel
            if built.count_relayed is not None:
                self._count_relayed[kind] = built.count_relayed
            if built.count_translated is not None:
                self._count_translated[kind] = built.count_translated
            if built.embeds is not None:
                self._embeds[kind] = built.embeds
        kinds = {c.provider.kind for entry in catalog.models() for c in entry.channels}
        unbuilt = kinds - self._translated.keys()
        if unbuilt:
            raise ValueError(f"no upstream factory for provider kinds {sorted(unbuilt)}")
        for entry in catalog.models():
            if Endpoint.EMBEDDINGS in entry.profile.endpoints:
                for channel in entry.channels:
                    if channel.provider.kind not in self._embeds:
                        raise ValueError(
                            f"model {entry.id}: its channel {channel.provider.name} is of kind "
                            f"{channel.provider.kind}, which serves no embeddings"
                        )
        self.calibration = Calibration()

    def resolve(self, name: str, endpoint: Endpoint) -> ModelEntry:
        entry = self.catalog.resolve(name)
        if entry is None or endpoint not in entry.profile.endpoints:
            raise NotFound(f"model: {name}", param="model")
        return entry

    def scenario(self, inbound: Inbound) -> Scenario:
        """What the routes test of a request; its tools are read only if a route tests them."""
        return Scenario(
            model=base_name(inbound.model),
            endpoint=inbound.inlet.endpoint,
            thinking=inbound.thinking,
            input_tokens=inbound.input_estimate(),
            tools=inbound.tools() if self.routes.needs_tools else frozenset(),
        )

    def route(self, inbound: Inbound) -> ModelEntry:
        """The catalogue model that serves a request: the first route that matches it, else the
        name it sent (without Claude Code's `[1m]` marker). The key's allow-list is checked
        against this entry (admission), so a route never takes a key where it may not go."""
        if not self.routes.rules:  # no routes (most configs): no scenario to build
            return self.resolve(base_name(inbound.model), inbound.inlet.endpoint)
        choice = self.routes.choose(self.scenario(inbound))
        return self.resolve(choice.target, inbound.inlet.endpoint)

    async def _admit(self, inbound: Inbound, entry: ModelEntry, record: RequestRecord) -> Ticket:
        if self._admission is None or inbound.principal is None:
            ticket = Ticket(entry.profile.pricing or UNPRICED)
        else:
            estimate = self._input_estimate(inbound, entry, record)
            searches = 0
            if record.estimate:  # translated (a pass-through's upstream runs its own tools)
                request = inbound.request()
                if request.server_tools:
                    searches = self._server_tools.worst_case_nusd(request)
            with self._tracing.phase("switchboard.admission"):
                ticket = await self._admission.admit(
                    inbound.principal,
                    inbound.model,
                    entry,
                    estimate,
                    self._output_limit(inbound, entry),
                    searches,
                )
            record.headers = ticket.headers
        ticket.search_nusd = self._server_tools.search_nusd
        if inbound.discount:
            # Reserved at the full price (the worst case), settled at the discounted one.
            ticket.pricing = discounted(ticket.pricing, inbound.discount)
        return ticket

    def _output_limit(self, inbound: Inbound, entry: ModelEntry) -> int:
        """The most output tokens any channel of the model may be asked for: a pass-through
        relays the client's limit (none: the upstream's own, which the catalogue states); a
        translation sends the client's or the dialect's default, within the model's limit."""
        asked = inbound.max_tokens
        if asked is None and not any(self._passthrough(inbound, c) for c in entry.channels):
            asked = inbound.default_max_tokens
        return output_limit(asked, entry.profile.max_output_tokens)

    @staticmethod
    async def _release(ticket: Ticket, exc: BaseException) -> None:
        """A request that failed costs nothing; its error still carries the key's limits."""
        await ticket.settle(FAILED)
        if isinstance(exc, GatewayError) and not exc.extra_headers:
            exc.extra_headers = ticket.headers

    def check_relays(self, inlet: Inlet) -> None:
        """Refuses (at start) a surface that declares pass-through to a kind that cannot relay."""
        if inlet.dialect is not None:
            missing = {k for k in inlet.relays if (k, inlet.dialect) not in self._dialect_relays}
        else:
            missing = set(inlet.relays - self._relays.keys())
        if missing:
            raise ValueError(f"no upstream kind relays as-is for {sorted(missing)}")

    def _relay(self, inbound: Inbound, channel: Channel) -> PassThrough | None:
        """What relays the request as-is to this channel; None: it is translated. A property
        of the pair (surface, provider kind), declared by the surface; a kind that relays only
        some models (Bedrock: Claude) or a dialect only some providers speak says which."""
        kind = channel.provider.kind
        inlet = inbound.inlet
        if kind not in inlet.relays:
            return None
        if inlet.dialect is not None:
            found = self._dialect_relays.get((kind, inlet.dialect))
            return found.relay if found is not None and found.channels(channel) else None
        only = self._relays_channel.get(kind)
        return self._relays[kind] if only is None or only(channel) else None

    def _passthrough(self, inbound: Inbound, channel: Channel) -> bool:
        return self._relay(inbound, channel) is not None

    def _input_estimate(self, inbound: Inbound, entry: ModelEntry, record: RequestRecord) -> int:
        """Input tokens, estimated once per request: from the IR, calibrated per model, when
        the request will be translated; from its size for a pass-through (never decoded)."""
        if not record.estimate:  # (set below only: the request is translated)
            if self._passthrough(inbound, entry.channels[0]):
                return inbound.input_estimate()
            record.estimate = estimate_tokens(inbound.request())
        return self.calibration.adjust(entry.id, record.estimate)

    def _call(
        self, inbound: Inbound, entry: ModelEntry, channel: Channel, record: RequestRecord
    ) -> Call:
        estimate = self._input_estimate(inbound, entry, record)
        return Call(inbound.request(), channel, entry.profile, estimate)

    async def _fetch_documents(self, inbound: Inbound) -> None:
        """Document `url` sources fetched (under the guard) for upstreams that cannot fetch
        them; once per request, whatever the number of channels tried."""
        if inbound._documents_ready:
            return
        request = inbound.request()
        inbound._documents_ready = True
        fetched = await with_fetched_documents(request, self._documents)
        if fetched is not request:
            inbound._request = fetched

    def _learn(self, model_id: str, record: RequestRecord, usage: ir.Usage) -> None:
        """A request has ended with this usage: calibrate the estimate of its model."""
        actual = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        if record.estimate and actual:
            self.calibration.observe(model_id, record.estimate, actual)

    async def count_tokens(self, inbound: Inbound) -> tuple[int, bool]:
        """The input token count and whether it is exact: the upstream's own count where it
        can give one (Anthropic pass-through, a configured tokenize endpoint), else the
        calibrated estimate."""
        entry = self.route(inbound)
        ticket = None
        if self._admission is not None and inbound.principal is not None:
            ticket = await self._admission.admit_count(inbound.principal, inbound.model, entry)
        try:
            return await self._count(inbound, entry)
        finally:
            if ticket is not None:
                await ticket.settle(FAILED)  # a count costs nothing

    async def _count(self, inbound: Inbound, entry: ModelEntry) -> tuple[int, bool]:
        channel = entry.channels[0]
        kind = channel.provider.kind
        try:
            if self._passthrough(inbound, channel) and kind in self._count_relayed:
                forward = self._forward(inbound, channel)
                return await self._count_relayed[kind].count_tokens(forward), True
            if kind in self._count_translated:
                call = self._call(inbound, entry, channel, RequestRecord())
                exact = await self._count_translated[kind].count_tokens(call)
                if exact is not None:
                    return exact, True
        except UpstreamError as exc:
            if not exc.retryable:
                raise
            log.warning("exact token count from %s failed; estimating", channel.provider.name)
        estimate = estimate_tokens(inbound.request())
        return self.calibration.adjust(entry.id, estimate), False

    def _forward(self, inbound: Inbound, channel: Channel) -> Forward:
        # Only the beta flags this upstream takes (betas.py); the others go in the loss report.
        headers, removed = betas.filtered(inbound.headers, channel.provider)
        return Forward(
            inbound.body, inbound.model, channel, headers, inbound.usage_chunk, tuple(removed)
        )

    async def _attempts(
        self,
        entry: ModelEntry,
        record: RequestRecord,
        affinity: str | None,
        attempt: Callable[[Channel], Awaitable[T]],
    ) -> tuple[T, Target]:
        """Try the planned channels in turn, then back off and go round again, within the
        attempt and time budgets. Only failures another try may not have are retried (never a
        request the upstream refused as the client's mistake), and only before the first byte
        reached the client: `attempt` returns before anything is sent."""
        policy = self._routing
        deadline = time.monotonic() + policy.max_retry_seconds
        tried = 0
        previous: Target | None = None
        last: UpstreamError | None = None
        for round_ in range(policy.max_attempts):
            for target in self.router.plan(entry.id, affinity):
                if last is not None and (
                    tried >= policy.max_attempts or time.monotonic() >= deadline
                ):
                    raise last
                if previous is not None:
                    if target is previous:
                        record.retries += 1
                    else:
                        record.failovers += 1
                tried += 1
                previous = target
                self.router.begin(target)
                try:
                    with self._tracing.attempt(target.channel, record):
                        result = await attempt(target.channel)
                except UpstreamError as exc:
                    if not exc.retryable:
                        raise
                    self._failed(target, exc)
                    last = exc
                    continue
                self.router.succeeded(target)
                channel = target.channel
                record.serve(entry.id, channel.provider.name, channel.model, target.name)
                return result, target
            assert last is not None, "a model always has at least one channel"
            delay = _backoff(policy, round_, last.retry_after)
            if tried >= policy.max_attempts or time.monotonic() + delay >= deadline:
                break
            log.info("every channel of %s failed; retrying in %.2fs", entry.id, delay)
            await asyncio.sleep(delay)
        assert last is not None
        raise last

    def _failed(self, target: Target, exc: UpstreamError) -> None:
        # The status and type only: upstream messages may quote a key.
        why = f"{exc.upstream_status or 'no reply'}: {exc.error_type}"
        rest = exc.retry_after if exc.upstream_status == 429 else None
        self.router.failed(target, why, rest)
        log.warning("channel %s failed (%s)", target.name, why)

    async def complete(self, inbound: Inbound, record: RequestRecord) -> Completed:
        """The whole reply; `record` gets what was served, used, cost and dropped."""
        entry = self.route(inbound)
        self._tracing.content("gen_ai.input.messages", inbound.body)

        async def attempt(channel: Channel) -> Completed:
            relays = self._relay(inbound, channel)
            if relays is not None:
                forward = self._forward(inbound, channel)
                relayed = await relays.forward(forward)
                return Completed(relayed.usage, raw=relayed.body, dropped=forward.dropped)
            await self._fetch_documents(inbound)
            upstream = self._translated[channel.provider.kind]
            call = self._call(inbound, entry, channel, record)
            loop = self._server_tools.prepare(call)
            if loop is None:
                done = await upstream.complete(call)
            else:
                done = await loop.complete(upstream.complete)
            usage = done.response.usage
            return Completed(usage, response=done.response, dropped=done.dropped)

        return await self._complete(inbound, entry, record, attempt)

    async def embed(self, inbound: Inbound, record: RequestRecord) -> Completed:
        """Embeddings: relayed to the model's channels (each of a kind that embeds, as checked
        at start), admitted, failed over and charged as a completion is."""
        entry = self.resolve(inbound.model, Endpoint.EMBEDDINGS)

        async def attempt(channel: Channel) -> Completed:
            embeds = self._embeds[channel.provider.kind]
            relayed = await embeds.embed(self._forward(inbound, channel))
            return Completed(relayed.usage, raw=relayed.body)

        return await self._complete(inbound, entry, record, attempt)

    async def _complete(
        self,
        inbound: Inbound,
        entry: ModelEntry,
        record: RequestRecord,
        attempt: Callable[[Channel], Awaitable[Completed]],
    ) -> Completed:
        ticket = await self._admit(inbound, entry, record)
        try:
            completed, _ = await self._attempts(entry, record, inbound.affinity, attempt)
        except BaseException as exc:
            await self._release(ticket, exc)
            raise
        usage = record.usage = completed.usage
        if completed.dropped:
            record.dropped += completed.dropped
        with self._tracing.phase("switchboard.settlement"):
            record.charge(await ticket.settle(Served(usage)))
        self._learn(entry.id, record, usage)
        if self._tracing.enabled:
            output = completed.raw
            if output is None and completed.response is not None:
                output = msgspec.json.encode(completed.response.content)
            self._tracing.content("gen_ai.output.messages", output or b"")
        return completed

    async def stream(self, inbound: Inbound, record: RequestRecord) -> Streaming:
        """The upstream stream, once it has produced its first item; `record` gets what was
        served and what the request's translation dropped so far."""
        entry = self.route(inbound)
        self._tracing.content("gen_ai.input.messages", inbound.body)

        async def attempt(channel: Channel) -> Streaming:
            # The first item is part of the attempt: a stream that fails before it can still
            # go to another channel, since the client has seen nothing yet.
            relays = self._relay(inbound, channel)
            if relays is not None:
                forward = self._forward(inbound, channel)
                relay = await relays.forward_stream(forward)
                raw = aiter(relay)
                head = await _first(relay, raw)
                return Streaming(record, head, relay, raw, dropped=forward.dropped)
            await self._fetch_documents(inbound)
            upstream = self._translated[channel.provider.kind]
            call = self._call(inbound, entry, channel, record)
            loop = self._server_tools.prepare(call)
            source: EventStream = await upstream.stream(call if loop is None else loop.call)
            if loop is not None:
                source = loop.stream(source, upstream.stream)
            batches = aiter(source)
            first = await _first(source, batches)
            return Streaming(
                record, first, source, batches, dropped=source.dropped, notes=source.notes
            )

        ticket = await self._admit(inbound, entry, record)
        try:
            streaming, target = await self._attempts(entry, record, inbound.affinity, attempt)
        except BaseException as exc:
            await self._release(ticket, exc)
            raise
        streaming.ticket = ticket
        if streaming.dropped:
            record.dropped += streaming.dropped

        def broke(exc: GatewayError) -> None:
            if isinstance(exc, UpstreamError) and exc.retryable:
                self._failed(target, exc)

        streaming.broke = broke
        return streaming

    async def settle(self, streaming: Streaming, outcome: Settlement) -> None:
        """After the stream: charge its outcome (a cut stream pays for what was generated, a
        failed one nothing) into the record."""
        record = streaming.record
        if not isinstance(outcome, Failed) and record.model_id is not None:
            self._learn(record.model_id, record, streaming.usage)
        if streaming.ticket is not None:
            with self._tracing.phase("switchboard.settlement"):
                record.charge(await streaming.ticket.settle(outcome))


async def _first(source: EventStream | RelayStream, iterator: AsyncIterator[T]) -> T:
    try:
        return await anext(iterator)
    except BaseException:
        await source.aclose()
        raise


def _backoff(policy: Routing, round_: int, retry_after: float | None) -> float:
    """What the upstream asked for, else exponential with jitter (so that clients that failed
    together do not come back together)."""
    if retry_after is not None:
        return retry_after
    base = min(policy.backoff_seconds * 2.0**round_, policy.max_backoff_seconds)
    return base * (0.75 + random.random() / 4)
