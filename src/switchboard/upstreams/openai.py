"""Upstreams that speak OpenAI chat completions: OpenAI, DeepSeek, Moonshot, Qwen, GLM,
OpenRouter, vLLM, SGLang, llama.cpp, Ollama..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import orjson

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.config import ProviderConfig
from switchboard.dialects.openai_chat.errors import upstream_error_message
from switchboard.dialects.openai_chat.passthrough import (
    DONE,
    StreamError,
    StreamRelay,
    rewrite_request,
    rewrite_response,
)
from switchboard.dialects.openai_chat.response import decode_response
from switchboard.dialects.openai_chat.stream import StreamDecoder
from switchboard.dialects.openai_chat.upstream_request import (
    Encoded,
    UpstreamProfile,
    encode_request,
)
from switchboard.dialects.sse import SSEEvent
from switchboard.errors import InvalidRequest, UpstreamError
from switchboard.signing import ThinkingSigner
from switchboard.upstreams.base import Call, Completion, Forward, Relayed
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.profiles import ProfileCache
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import DecodingReader, Relaying, RelayingReader, UpstreamStream

CHAT = "/chat/completions"
EMBEDDINGS = "/embeddings"


def _profile(call: Call, signer: ThinkingSigner) -> UpstreamProfile:
    p, provider = call.profile, call.channel.provider
    return UpstreamProfile(
        model_id=p.id,
        upstream_model=call.channel.model,
        max_tokens_field=provider.max_tokens_field,
        accepts_top_k=provider.accepts_top_k,
        max_output_tokens=p.max_output_tokens,
        vision=p.capabilities.vision,
        pdf=p.capabilities.pdf,
        prompt_caching=p.capabilities.prompt_caching,
        strict_schemas=provider.strict_schemas,
        thinking_control=p.reasoning.control,
        echo_field=p.reasoning.echo_field if p.reasoning.echo else None,
        verify=signer.verify,
        forward_user=provider.forward_user,
    )


def request_headers(channel: Channel) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if channel.api_key:
        headers["authorization"] = f"Bearer {channel.api_key}"
    headers.update(channel.provider.headers)
    return headers


async def relay_post(
    http: HttpClient,
    fwd: Forward,
    path: str,
    rewrite: Callable[[bytes, str], bytes],
    stream: bool,
) -> Reply:
    """A client's body, with only `model` changed (`rewrite`), to `{base_url}{path}`."""
    provider = fwd.channel.provider
    try:
        body = rewrite(fwd.body, fwd.channel.model)
    except (orjson.JSONDecodeError, ValueError):
        # The client's body, not the upstream's reply: a client mistake, never retried.
        raise InvalidRequest(
            "the request body is not a JSON object the gateway can forward (numbers must be finite)"
        ) from None
    return await http.post(
        provider,
        provider.base_url.rstrip("/") + path,
        body,
        request_headers(fwd.channel),
        upstream_error_message,
        stream=stream,
    )


class OpenAIUpstream:
    def __init__(self, http: HttpClient, signer: ThinkingSigner) -> None:
        self._http = http
        self._signer = signer
        self._profile = ProfileCache(lambda call: _profile(call, signer))

    def _url(self, provider: ProviderConfig, path: str = CHAT) -> str:
        return provider.base_url.rstrip("/") + path

    async def _send(self, call: Call, encoded: Encoded, *, stream: bool) -> Reply:
        provider = call.channel.provider
        return await self._http.post(
            provider,
            self._url(provider),
            orjson.dumps(encoded.body),
            request_headers(call.channel),
            upstream_error_message,
            stream=stream,
        )

    async def complete(self, call: Call) -> Completion:
        provider = call.channel.provider
        encoded = encode_request(call.request, self._profile(call))
        resp = await self._send(call, encoded, stream=False)
        response, notes = await self._http.read_reply(
            provider, resp, lambda raw: decode_response(raw, encoded.tool_names, self._signer.sign)
        )
        return Completion(response, encoded.dropped + notes)

    async def count_tokens(self, call: Call) -> int | None:
        """Exact count from the provider's tokenize endpoint, when it has one."""
        provider = call.channel.provider
        if not provider.tokenize_url:
            return None
        encoded = encode_request(call.request, self._profile(call))
        body = {"model": call.channel.model, "messages": encoded.body["messages"]}
        if "tools" in encoded.body:
            body["tools"] = encoded.body["tools"]
        resp = await self._http.post(
            provider,
            provider.tokenize_url,
            orjson.dumps(body),
            request_headers(call.channel),
            upstream_error_message,
            stream=False,
        )
        return await self._http.read_count(provider, resp, "count")

    async def stream(self, call: Call) -> UpstreamStream[list[ir.Event]]:
        provider = call.channel.provider
        encoded = encode_request(call.request, self._profile(call))
        resp = await self._send(call, encoded, stream=True)
        decoder = StreamDecoder(
            provider=provider.name,
            input_estimate=call.input_estimate,
            tool_names=encoded.tool_names,
            sign=self._signer.sign,
        )
        reader = EventReader(decoder, self._http.redactor)
        return UpstreamStream(provider, resp, reader, encoded.dropped)

    # Pass-through (OpenAI client): the client's body with only `model` changed.

    async def _forward(self, fwd: Forward, *, stream: bool, path: str = CHAT) -> Reply:
        return await relay_post(self._http, fwd, path, rewrite_request, stream)

    async def forward(self, fwd: Forward) -> Relayed:
        return await self._relay(fwd, CHAT)

    async def embed(self, fwd: Forward) -> Relayed:
        """An embeddings request, relayed as chat completions are (its usage is the reply's
        `prompt_tokens`)."""
        return await self._relay(fwd, EMBEDDINGS)

    async def _relay(self, fwd: Forward, path: str) -> Relayed:
        resp = await self._forward(fwd, stream=False, path=path)
        return await self._http.read_relayed(fwd, resp, rewrite_response)

    async def forward_stream(self, fwd: Forward) -> UpstreamStream[bytes]:
        resp = await self._forward(fwd, stream=True)
        provider = fwd.channel.provider
        relay = StreamRelay(fwd.client_model, forward_usage=fwd.usage_chunk)
        return UpstreamStream(
            provider, resp, RelayReader(provider.name, relay, self._http.redactor)
        )


class OpenAIRelay(Relaying, Protocol):
    """What the chat-completions and Responses stream relays both are."""

    @property
    def done(self) -> bool:
        """A terminal event ([DONE], or the event that ends a response) was relayed."""
        ...

    def relay(self, event: SSEEvent) -> bytes:
        """The event, rewritten for the client (raises StreamError for an error event)."""
        ...


OR = TypeVar("OR", bound=OpenAIRelay)


class OpenAIRelayReader(RelayingReader[OR]):
    """A relayed OpenAI stream, chat chunks or Responses events: passed on as they came, but
    for `model`; an error event becomes the upstream's error, its message masked."""

    __slots__ = ()

    BAD = "bad stream chunk"  # what an event that does not parse is called

    def take(self, events: list[SSEEvent]) -> bytes:
        relay = self._relay
        out: list[bytes] = []
        for event in events:
            try:
                piece = relay.relay(event)
            except (orjson.JSONDecodeError, ValueError):
                raise UpstreamError.malformed(self._name, self.BAD) from None
            except StreamError as exc:
                message = self._redactor.upstream(exc.message)
                raise UpstreamError.from_status(
                    exc.status, f"error in stream: {message}", provider=self._name
                ) from None
            if piece:
                out.append(piece)
            if relay.done:
                self.done = True
                break
        return b"".join(out)


class RelayReader(OpenAIRelayReader[StreamRelay]):
    """A relayed stream of chat-completion chunks."""

    __slots__ = ()

    def end(self) -> bytes:
        if not self._relay.finished:
            raise UpstreamError.malformed(self._name, "the stream ended before it finished")
        return DONE  # a finished stream that lacked [DONE] (llama.cpp, ik_llama.cpp)


class EventReader(DecodingReader[StreamDecoder]):
    """A translated stream: OpenAI chunks decoded into IR event batches."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        decoder = self._decoder
        batch: list[ir.Event] = []
        for event in events:
            if event.data == b"[DONE]":
                self.done = True
                return batch + decoder.finish()
            if event.data:
                try:
                    batch += decoder.feed(event.data)
                except UpstreamError as exc:  # an error chunk, in the upstream's words
                    raise self._redactor.error(exc) from None
        return batch

    def end(self) -> list[ir.Event]:
        return self._decoder.finish()
