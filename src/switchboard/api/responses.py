"""`POST /v1/responses` (also under `/openai`): the OpenAI Responses surface (docs/responses.md);
its stored responses read back and deleted by api/stored_responses.py.

Requests are translated through the IR to any upstream kind; an OpenAI provider marked
`responses_api` gets them relayed as they are. With `responses.store` on, a response's
conversation is kept (storage/responses.py) and a later request may continue it by
`previous_response_id`, with the same key only."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import orjson
from sqlalchemy.exc import SQLAlchemyError

from switchboard import ir
from switchboard.api.bounds import Bounds, affinity
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.exchange import Exchange
from switchboard.api.post import PostHandler, read_body
from switchboard.api.report import served_headers
from switchboard.api.stored_responses import StoredResponsesHandler
from switchboard.api.streaming import serve_stream
from switchboard.api.surface import Parts, Route, SuffixRoute, Surface
from switchboard.config import Responses
from switchboard.dialects.openai_chat.request import DEFAULT_MAX_TOKENS
from switchboard.dialects.openai_responses import wire
from switchboard.dialects.openai_responses.errors import error_body, error_code, error_event
from switchboard.dialects.openai_responses.request import (
    Item,
    decode_head,
    decode_request,
    items,
    parse,
)
from switchboard.dialects.openai_responses.response import Echo, Json, encode_response
from switchboard.dialects.openai_responses.stream import StreamEncoder
from switchboard.errors import GatewayError, InvalidRequest, NotFound
from switchboard.ids import response_id
from switchboard.kinds import RESPONSES, Endpoint, ProviderKind
from switchboard.log import events as log
from switchboard.pipeline import Inbound, Inlet, Streaming
from switchboard.service import Gateway
from switchboard.storage.responses import ResponseStore
from switchboard.tenancy.auth import Authenticator

DIALECT = RESPONSES
# Models offered on the OpenAI endpoint are offered here too; OpenAI providers that serve the
# Responses API themselves (`responses_api: true`) get these bodies as they are.
INLET = Inlet(Endpoint.OPENAI, relays=frozenset({ProviderKind.OPENAI}), dialect=RESPONSES)


Save = Callable[[Json], Awaitable[None]]  # the response object, as served


@dataclass(slots=True)
class _Request:
    """One request as the handler holds it: its body typed, and its whole conversation."""

    wire: wire.ResponsesRequest
    dropped: list[str]
    conversation: list[Item]  # stored items first, then the request's own
    stored: int  # how many of them came from storage
    echo: Echo


class ResponsesHandler(PostHandler):
    def __init__(
        self,
        gateway: Gateway,
        auth: Authenticator,
        bounds: Bounds,
        settings: Responses,
        store: ResponseStore,
    ) -> None:
        super().__init__(gateway, auth, bounds)
        self._settings = settings
        self._store = store

    async def __call__(self, ex: Exchange) -> None:
        principal, body = await read_body(ex, self._auth, self._bounds, key_header=None)
        record = ex.record
        head = decode_head(body)
        self._bounds.check(head.input, head.tools, "input")
        record.model = head.model
        record.stream = bool(head.stream)
        store = self._settings.store and head.store is not False
        history: list[Item] = []
        if head.previous_response_id is not None:
            history = await self._history(head.previous_response_id, principal.key_id)
        w, dropped = parse(body)
        own = items(w)
        conversation = history + own
        if history:
            # The upstream never sees the gateway's ids: a relayed body carries the whole
            # conversation instead.
            data = orjson.loads(body)
            data.pop("previous_response_id", None)
            data["input"] = conversation
            body = orjson.dumps(data)
        echo = Echo.of(w, id=response_id(), created_at=int(time.time()), store=store)
        req = _Request(w, dropped, conversation, len(history), echo)
        inbound = Inbound(
            inlet=INLET,
            body=body,
            model=head.model,
            stream=bool(head.stream),
            headers={},
            decode=lambda: decode_request(req.wire, req.conversation, req.stored, req.dropped),
            principal=principal,
            max_tokens=head.max_output_tokens,
            default_max_tokens=DEFAULT_MAX_TOKENS,
            affinity=affinity(ex, head.prompt_cache_key, head.user),
        )

        async def save(response: Json) -> None:
            # Before the client reads the response's id: it may continue from it at once.
            if not store:
                return
            output: list[Item] = response["output"]
            try:
                await self._store.save(echo.id, principal.key_id, conversation + output, response)
            except SQLAlchemyError as exc:
                # The reply is served (and charged) all the same; only its continuation is lost.
                log.error("could not store response %s: %s", echo.id, type(exc).__name__)

        async with cancel_on_disconnect(ex):
            await self._serve(ex, inbound, req, save)

    async def _history(self, previous: str, key_id: str) -> list[Item]:
        if not self._settings.store:
            raise InvalidRequest(
                "previous_response_id: this gateway does not store responses (the operator "
                "can enable responses.store); send the whole conversation in input instead",
                param="previous_response_id",
            )
        found = await self._store.load(previous[:64], key_id)
        if found is None:
            raise NotFound(
                f"previous_response_id: no response '{previous[:64]}' found",
                param="previous_response_id",
            )
        return found

    async def _serve(self, ex: Exchange, inbound: Inbound, req: _Request, save: Save) -> None:
        if inbound.stream:
            streaming = await self._gateway.stream(inbound, ex.record)
            encoder = StreamEncoder(req.echo)

            def encode(batch: list[ir.Event]) -> bytes:
                return b"".join([encoder.encode(e) for e in batch])

            def error_frame(exc: GatewayError) -> bytes:
                return encoder.failed(error_code(exc, ex.request_id), exc.message)

            _save_before_end(streaming, lambda: save(encoder.final()))
            await serve_stream(ex, self._gateway, streaming, encode, error_frame)
            return
        done = await self._gateway.complete(inbound, ex.record)
        if done.raw is not None:
            await ex.respond(200, done.raw, served_headers(ex.record))
            return
        assert done.response is not None
        body, lost = encode_response(done.response, req.echo)
        ex.record.dropped += lost
        await save(body)
        await ex.respond(200, orjson.dumps(body), served_headers(ex.record))


def _save_before_end(streaming: Streaming, save: Callable[[], Awaitable[None]]) -> None:
    """Runs `save` once every item of a translated stream was sent, before its last event
    (the one that completes the response): a stream that fails before it saves nothing, and
    a relayed one is the upstream's."""
    first, rest = streaming.first, streaming.rest
    if isinstance(first, bytes):
        return  # relayed: the upstream's response, not stored here
    held: list[ir.Event] = []
    if first and isinstance(first[-1], ir.MessageStop):
        streaming.first, held = first[:-1], first[-1:]

    async def batches() -> AsyncIterator[list[ir.Event]]:
        if held:
            await save()
            yield held
            return
        async for batch in rest:
            assert isinstance(batch, list)
            if batch and isinstance(batch[-1], ir.MessageStop):
                if len(batch) > 1:
                    yield batch[:-1]  # encoded (its items done) before the next is asked for
                await save()
                yield batch[-1:]
            else:
                yield batch

    streaming.rest = batches()


def _responses(parts: Parts) -> ResponsesHandler:
    settings = parts.config.responses
    store = ResponseStore(parts.storage.engine, settings.retention_days)
    return ResponsesHandler(parts.gateway, parts.auth, parts.bounds, settings, store)


def _stored(parts: Parts) -> StoredResponsesHandler:
    settings = parts.config.responses
    store = ResponseStore(parts.storage.engine, settings.retention_days)
    return StoredResponsesHandler(parts.auth, settings, store)


SURFACE = Surface(
    name="responses",
    dialect=DIALECT,
    inlet=INLET,
    prefixes=("/openai", ""),
    routes=(
        Route("POST", "/v1/responses", _responses, metered=True),
        Route("POST", "/responses", _responses, metered=True, prefixes=("/openai",)),
    ),
    # `{response_id}` and `{response_id}/input_items`; under /openai with or without /v1, as
    # the POST.
    suffix_routes=(
        SuffixRoute("GET", "/v1/responses/", lambda p: _stored(p).get),
        SuffixRoute("DELETE", "/v1/responses/", lambda p: _stored(p).delete),
        SuffixRoute("GET", "/responses/", lambda p: _stored(p).get, prefixes=("/openai",)),
        SuffixRoute("DELETE", "/responses/", lambda p: _stored(p).delete, prefixes=("/openai",)),
    ),
    error_body=error_body,
    error_event=error_event,
)
