"""`POST /v1/messages` (and under `/anthropic`): the Anthropic Messages surface."""

from __future__ import annotations

import orjson

from switchboard import ir
from switchboard.api.asgi import Exchange
from switchboard.api.bounds import Bounds, affinity
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.streaming import relay
from switchboard.auth import Authenticator
from switchboard.dialects.anthropic.errors import error_event
from switchboard.dialects.anthropic.request import (
    decode_count_tokens,
    decode_head,
    decode_request,
)
from switchboard.dialects.anthropic.response import encode_response
from switchboard.dialects.anthropic.stream import StreamEncoder
from switchboard.errors import GatewayError
from switchboard.ids import message_id
from switchboard.service import Gateway, Inbound, Served

FORWARDED = ("anthropic-version", "anthropic-beta")


def served_headers(served: Served) -> list[tuple[bytes, bytes]]:
    headers = [(b"switchboard-channel", served.channel.encode("ascii", "replace"))]
    if served.dropped:
        # The loss report: everything translation dropped or changed, deduplicated, in order.
        report = "; ".join(dict.fromkeys(served.dropped))
        headers.append((b"switchboard-dropped", report.encode("ascii", "replace")))
    return headers


class MessagesHandler:
    def __init__(self, gateway: Gateway, auth: Authenticator, bounds: Bounds) -> None:
        self._gateway = gateway
        self._auth = auth
        self._bounds = bounds

    async def __call__(self, ex: Exchange) -> None:
        h = ex.headers
        principal = self._auth.authenticate(h.get("x-api-key"), h.get("authorization"))
        ex.log["key"] = principal.name
        body = await self._bounds.body(ex)
        head = decode_head(body)
        self._bounds.check(head.messages, head.tools)
        inbound = Inbound(
            dialect="anthropic",
            body=body,
            model=head.model,
            stream=bool(head.stream),
            headers={k: h[k] for k in FORWARDED if k in h},
            decode=lambda: decode_request(body),
            affinity=affinity(ex, head.metadata.user_id if head.metadata else None),
        )
        ex.log.update(model=head.model, stream=inbound.stream)
        async with cancel_on_disconnect(ex):
            await self._serve(ex, inbound)

    async def _serve(self, ex: Exchange, inbound: Inbound) -> None:
        if inbound.stream:
            streaming = await self._gateway.stream(inbound)
            self._note(ex, streaming.served)
            encoder = StreamEncoder(model=inbound.model, message_id=message_id())

            def encode(batch: list[ir.Event]) -> bytes:
                return b"".join([encoder.encode(e) for e in batch])

            def error_frame(exc: GatewayError) -> bytes:
                return error_event(exc, ex.request_id)

            await relay(ex, streaming, encode, error_frame, served_headers(streaming.served))
            self._usage(ex, streaming.usage)
            self._gateway.settle(streaming.served, streaming.usage)
            return
        done = await self._gateway.complete(inbound)
        self._note(ex, done.served)
        self._usage(ex, done.usage)
        self._gateway.settle(done.served, done.usage)
        if done.raw is not None:
            payload = done.raw
        else:
            assert done.response is not None
            payload = encode_response(done.response, model=inbound.model, message_id=message_id())
        await ex.respond(200, payload, served_headers(done.served))

    @staticmethod
    def _note(ex: Exchange, served: Served) -> None:
        ex.log["model_id"] = served.model
        ex.log["channel"] = served.channel
        if served.failovers:
            ex.log["failovers"] = served.failovers
        if served.retries:
            ex.log["retries"] = served.retries
        if served.dropped:
            ex.log["dropped"] = list(dict.fromkeys(served.dropped))

    @staticmethod
    def _usage(ex: Exchange, usage: ir.Usage) -> None:
        ex.log["input_tokens"] = usage.input_tokens
        ex.log["output_tokens"] = usage.output_tokens
        if usage.cache_read_tokens:
            ex.log["cache_read_tokens"] = usage.cache_read_tokens


class CountTokensHandler:
    """`POST /v1/messages/count_tokens`."""

    def __init__(self, gateway: Gateway, auth: Authenticator, bounds: Bounds) -> None:
        self._gateway = gateway
        self._auth = auth
        self._bounds = bounds

    async def __call__(self, ex: Exchange) -> None:
        h = ex.headers
        ex.log["key"] = self._auth.authenticate(h.get("x-api-key"), h.get("authorization")).name
        body = await self._bounds.body(ex)
        head = decode_head(body)
        self._bounds.check(head.messages, head.tools)
        inbound = Inbound(
            dialect="anthropic",
            body=body,
            model=head.model,
            stream=False,
            headers={k: h[k] for k in FORWARDED if k in h},
            decode=lambda: decode_count_tokens(body),
        )
        ex.log["model"] = head.model
        async with cancel_on_disconnect(ex):
            count, exact = await self._gateway.count_tokens(inbound)
        kind = b"exact" if exact else b"estimate"
        await ex.respond(
            200, orjson.dumps({"input_tokens": count}), [(b"switchboard-token-count", kind)]
        )
