"""`POST /v1/chat/completions` and `GET /v1/models` (also under `/openai`): the OpenAI surface."""

from __future__ import annotations

import time

import orjson

from switchboard import ir
from switchboard.api import openai_batches
from switchboard.api.batch_requests import BatchRequests
from switchboard.api.bounds import affinity
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.embeddings import EmbeddingsHandler
from switchboard.api.exchange import Exchange
from switchboard.api.post import PostHandler, read_body
from switchboard.api.report import served_headers
from switchboard.api.session import session_of
from switchboard.api.streaming import serve_stream
from switchboard.api.surface import Handler, Parts, Route, Surface
from switchboard.batches.dialect import BatchApi
from switchboard.catalog import Catalog
from switchboard.dialects.openai_chat.batches import file_id, output_lines
from switchboard.dialects.openai_chat.errors import error_body, error_event
from switchboard.dialects.openai_chat.request import (
    DEFAULT_MAX_TOKENS,
    decode_head,
    decode_request,
    head_thinking,
    tool_keys,
    wants_usage,
)
from switchboard.dialects.openai_chat.response import encode_response
from switchboard.dialects.openai_chat.stream import StreamEncoder
from switchboard.errors import GatewayError
from switchboard.ids import completion_id
from switchboard.kinds import Dialect, Endpoint, ProviderKind
from switchboard.pipeline import Inbound, Inlet
from switchboard.storage.batches import StoredResult
from switchboard.tenancy.auth import Authenticator

DIALECT = Dialect("openai")
OFFERED = frozenset({Endpoint.OPENAI, Endpoint.EMBEDDINGS})  # what GET /v1/models lists
# Its bodies go as they are to OpenAI-kind upstreams.
INLET = Inlet(Endpoint.OPENAI, relays=frozenset({ProviderKind.OPENAI}))


class ChatCompletionsHandler(PostHandler):
    async def __call__(self, ex: Exchange) -> None:
        principal, body = await read_body(ex, self._auth, self._bounds, key_header=None)
        record = ex.record
        head = decode_head(body)
        self._bounds.check(head.messages, head.tools)
        include_usage = wants_usage(head)
        inbound = Inbound(
            inlet=INLET,
            body=body,
            model=head.model,
            stream=bool(head.stream),
            headers={},
            decode=lambda: decode_request(body),
            usage_chunk=include_usage,
            principal=principal,
            max_tokens=head.output_limit,
            default_max_tokens=DEFAULT_MAX_TOKENS,
            affinity=affinity(ex, head.prompt_cache_key, head.user),
            thinking=head_thinking(head),
            tools=lambda: tool_keys(head.tools),
        )
        record.model = head.model
        record.session = session_of(ex.headers, None)
        record.stream = inbound.stream
        async with cancel_on_disconnect(ex):
            await self._serve(ex, inbound)

    async def _serve(self, ex: Exchange, inbound: Inbound) -> None:
        created = int(time.time())
        if inbound.stream:
            streaming = await self._gateway.stream(inbound, ex.record)
            encoder = StreamEncoder(
                model=inbound.model,
                completion_id=completion_id(),
                created=created,
                include_usage=inbound.usage_chunk,
            )

            def encode(batch: list[ir.Event]) -> bytes:
                return b"".join([encoder.encode(e) for e in batch])

            def error_frame(exc: GatewayError) -> bytes:
                return error_event(exc, ex.request_id)

            await serve_stream(ex, self._gateway, streaming, encode, error_frame)
            return
        done = await self._gateway.complete(inbound, ex.record)
        if done.raw is not None:
            payload = done.raw
        else:
            assert done.response is not None
            payload, lost = encode_response(
                done.response, model=inbound.model, completion_id=completion_id(), created=created
            )
            ex.record.dropped += lost
        await ex.respond(200, payload, served_headers(ex.record))


class ModelsHandler:
    """The OpenAI model list: only models served on the `openai` or `embeddings` endpoints.
    `list_models` is also what the shared `GET /v1/models` calls for requests without Anthropic
    headers."""

    def __init__(self, catalog: Catalog, auth: Authenticator) -> None:
        self._auth = auth
        created = int(time.time())  # when this gateway started serving them
        self._body = orjson.dumps(
            {
                "object": "list",
                "data": [
                    {
                        "id": entry.id,
                        "object": "model",
                        "created": created,
                        "owned_by": entry.channels[0].provider.name,
                    }
                    for entry in catalog.models()
                    if not OFFERED.isdisjoint(entry.profile.endpoints)
                ],
            }
        )

    async def list_models(self, ex: Exchange) -> None:
        ex.dialect = DIALECT  # also on the shared `GET /v1/models`
        principal = await self._auth.authenticate(None, ex.headers.get("authorization"))
        ex.record.key_name = principal.name
        await ex.respond(200, self._body)


# -- its batch API (api/openai_batches.py): each request of a batch is a chat completion.


def _batch_response(response: ir.Response, model: str) -> bytes:
    payload, _ = encode_response(
        response, model=model, completion_id=completion_id(), created=int(time.time())
    )
    return payload


# Read as ChatCompletionsHandler reads the online request.
BATCH_REQUESTS = BatchRequests(
    INLET,
    decode_head,
    decode_request,
    head_thinking,
    tool_keys,
    _batch_response,
    default_max_tokens=DEFAULT_MAX_TOKENS,
)


def _output_files(results: list[StoredResult]) -> list[tuple[str, str, bytes]]:
    made = [
        (
            part,
            file_id(),
            output_lines(
                ((r.custom_id, r.outcome, r.status, r.request_id, r.result) for r in results), part
            ),
        )
        for part in ("output", "error")
    ]
    return [(part, fid, content) for part, fid, content in made if content]


BATCH_API = BatchApi(
    "openai",
    "/v1/chat/completions",
    BATCH_REQUESTS.check,
    BATCH_REQUESTS.inbound,
    BATCH_REQUESTS.encode,
    error_body,
    _output_files,
)


def _chat(parts: Parts) -> ChatCompletionsHandler:
    return ChatCompletionsHandler(parts.gateway, parts.auth, parts.bounds)


def _embeddings(parts: Parts) -> EmbeddingsHandler:
    return EmbeddingsHandler(parts.gateway, parts.auth, parts.bounds)


def _models(parts: Parts) -> Handler:
    return ModelsHandler(parts.gateway.catalog, parts.auth).list_models


# Clients set base_url with or without /v1; both must work (openai-chat-api.md 8.1).
SURFACE = Surface(
    name="openai",
    dialect=DIALECT,
    inlet=INLET,
    prefixes=("/openai", ""),
    routes=(
        Route("POST", "/v1/chat/completions", _chat, metered=True),
        Route("POST", "/chat/completions", _chat, metered=True),
        Route("POST", "/v1/embeddings", _embeddings, metered=True),
        Route("POST", "/embeddings", _embeddings, metered=True),
        Route("GET", "/v1/models", _models),
        Route("GET", "/models", _models, prefixes=("/openai",)),
        *openai_batches.ROUTES,
    ),
    suffix_routes=openai_batches.SUFFIX_ROUTES,
    error_body=error_body,
    error_event=error_event,
    batch_api=BATCH_API,
)
