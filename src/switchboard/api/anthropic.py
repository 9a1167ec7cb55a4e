"""`POST /v1/messages` (and under `/anthropic`): the Anthropic Messages surface."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import orjson

from switchboard import ir
from switchboard.api import message_batches
from switchboard.api.batch_requests import BatchRequests
from switchboard.api.bounds import Bounds, affinity
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.exchange import Exchange
from switchboard.api.models import ModelsHandler
from switchboard.api.post import PostHandler, read_body
from switchboard.api.report import served_headers
from switchboard.api.session import session_of
from switchboard.api.streaming import SSE_FRAMING, Framing, serve_stream
from switchboard.api.surface import Route, SuffixRoute, Surface
from switchboard.batches.dialect import BatchApi
from switchboard.dialects.anthropic.errors import error_body, error_event
from switchboard.dialects.anthropic.request import (
    decode_count_tokens,
    decode_head,
    decode_request,
    head_thinking,
    tool_keys,
)
from switchboard.dialects.anthropic.response import encode_response
from switchboard.dialects.anthropic.stream import StreamEncoder
from switchboard.dialects.anthropic.wire import RequestHead
from switchboard.errors import GatewayError, InvalidRequest
from switchboard.ids import message_id
from switchboard.kinds import Dialect, Endpoint, ProviderKind
from switchboard.pipeline import Inbound, Inlet
from switchboard.service import Gateway
from switchboard.tenancy.auth import Authenticator, Principal

FORWARDED = ("anthropic-version", "anthropic-beta")
ErrorEvent = Callable[[GatewayError, str], bytes]
# Its bodies go as they are to Anthropic-kind upstreams.
# Bedrock relays Claude models only (its factory's `relays_channel`); the rest are translated.
INLET = Inlet(Endpoint.ANTHROPIC, relays=frozenset({ProviderKind.ANTHROPIC, ProviderKind.BEDROCK}))


async def read_inbound(
    ex: Exchange, auth: Authenticator, bounds: Bounds, *, count_tokens: bool = False
) -> Inbound:
    """Authenticate, read the body within bounds, decode what routing needs (the rest is
    decoded only if the request is translated)."""
    principal, body = await read_body(ex, auth, bounds)
    h = ex.headers
    headers = {k: h[k] for k in FORWARDED if k in h}
    return messages_inbound(ex, bounds, principal, body, headers, count_tokens=count_tokens)


def messages_inbound(
    ex: Exchange,
    bounds: Bounds,
    principal: Principal,
    body: bytes,
    headers: Mapping[str, str],
    *,
    count_tokens: bool = False,
) -> Inbound:
    """A Messages API body (and its version and beta headers) as the pipeline takes it."""
    head = decode_head(body)
    bounds.check(head.messages, head.tools)
    if head.output_limit is None and not count_tokens:
        # Required, as the real API and the translated path say; a pass-through body without
        # it would otherwise reach the upstream with no bound the gateway chose to reserve.
        raise InvalidRequest("max_tokens: Field required", param="max_tokens")
    decode = decode_count_tokens if count_tokens else decode_request
    user_id = head.metadata.user_id if head.metadata else None
    inbound = Inbound(
        inlet=INLET,
        body=body,
        model=head.model,
        stream=bool(head.stream) and not count_tokens,
        headers=headers,
        decode=lambda: decode(body),
        principal=principal,
        max_tokens=head.output_limit,
        affinity=affinity(ex, user_id),
        thinking=head_thinking(head),
        tools=lambda: tool_keys(head.tools),
    )
    ex.record.model = head.model
    ex.record.session = session_of(ex.headers, user_id)
    ex.record.stream = inbound.stream
    return inbound


class MessagesHandler(PostHandler):
    async def __call__(self, ex: Exchange) -> None:
        inbound = await read_inbound(ex, self._auth, self._bounds)
        async with cancel_on_disconnect(ex):
            await serve_messages(ex, self._gateway, inbound)


async def serve_messages(
    ex: Exchange,
    gateway: Gateway,
    inbound: Inbound,
    framing: Framing = SSE_FRAMING,
    error_frame: ErrorEvent = error_event,
) -> None:
    """Answer a Messages request: a message, or its event stream (in `framing`, with
    `error_frame` for a failure after the first byte)."""
    if inbound.stream:
        streaming = await gateway.stream(inbound, ex.record)
        encoder = StreamEncoder(model=inbound.model, message_id=message_id())

        def encode(batch: list[ir.Event]) -> bytes:
            return b"".join([encoder.encode(e) for e in batch])

        def failed(exc: GatewayError) -> bytes:
            return error_frame(exc, ex.request_id)

        await serve_stream(ex, gateway, streaming, encode, failed, framing)
        return
    done = await gateway.complete(inbound, ex.record)
    if done.raw is not None:
        payload = done.raw
    else:
        assert done.response is not None
        payload = encode_response(done.response, model=inbound.model, message_id=message_id())
    await ex.respond(200, payload, served_headers(ex.record))


async def count_tokens(ex: Exchange, gateway: Gateway, inbound: Inbound) -> None:
    """Answer a token count: `{"input_tokens"}`, and whether it is exact in a header."""
    count, exact = await gateway.count_tokens(inbound)
    kind = b"exact" if exact else b"estimate"
    await ex.respond(
        200, orjson.dumps({"input_tokens": count}), [(b"switchboard-token-count", kind)]
    )


class CountTokensHandler(PostHandler):
    """`POST /v1/messages/count_tokens`."""

    async def __call__(self, ex: Exchange) -> None:
        inbound = await read_inbound(ex, self._auth, self._bounds, count_tokens=True)
        async with cancel_on_disconnect(ex):
            await count_tokens(ex, self._gateway, inbound)


# -- its batch API (api/message_batches.py): each request of a batch is a Messages request.


def _batch_head(body: bytes) -> RequestHead:
    head = decode_head(body)
    if head.output_limit is None:  # required, as messages_inbound requires it
        raise InvalidRequest("max_tokens: Field required", param="max_tokens")
    return head


def _batch_response(response: ir.Response, model: str) -> bytes:
    return encode_response(response, model=model, message_id=message_id())


# Read as messages_inbound reads the online request.
BATCH_REQUESTS = BatchRequests(
    INLET, _batch_head, decode_request, head_thinking, tool_keys, _batch_response
)
BATCH_API = BatchApi(
    "anthropic",
    "/v1/messages",
    BATCH_REQUESTS.check,
    BATCH_REQUESTS.inbound,
    BATCH_REQUESTS.encode,
    error_body,
)


def _claims(headers: Mapping[str, str]) -> bool:
    # Anthropic clients always send one of these; the shared `GET /v1/models` answers the
    # others in the OpenAI shape.
    return "anthropic-version" in headers or "x-api-key" in headers


SURFACE = Surface(
    name="anthropic",
    dialect=Dialect("anthropic"),
    inlet=INLET,
    prefixes=("/anthropic", ""),
    routes=(
        Route(
            "POST",
            "/v1/messages",
            lambda p: MessagesHandler(p.gateway, p.auth, p.bounds),
            metered=True,
        ),
        Route(
            "POST",
            "/v1/messages/count_tokens",
            lambda p: CountTokensHandler(p.gateway, p.auth, p.bounds),
        ),
        Route("GET", "/v1/models", lambda p: ModelsHandler(p.gateway, p.auth).list),
        *message_batches.ROUTES,
    ),
    suffix_routes=(
        SuffixRoute("GET", "/v1/models/", lambda p: ModelsHandler(p.gateway, p.auth).retrieve),
        *message_batches.SUFFIX_ROUTES,
    ),
    error_body=error_body,
    error_event=error_event,
    claims=_claims,
    batch_api=BATCH_API,
)
