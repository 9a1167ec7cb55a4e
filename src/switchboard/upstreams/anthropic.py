"""Upstreams that speak the Anthropic Messages API (Anthropic itself, and the Anthropic routes of
DeepSeek, Moonshot, DashScope, Z.ai, MiniMax...). Anthropic clients are relayed, not translated."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson

from switchboard import ir
from switchboard.config import ProviderConfig
from switchboard.dialects.anthropic.errors import upstream_error_message
from switchboard.dialects.anthropic.passthrough import StreamRelay, rewrite_model, rewrite_response
from switchboard.errors import UpstreamError
from switchboard.upstreams.base import Forward, Relayed
from switchboard.upstreams.http import HttpClient


def _headers(provider: ProviderConfig, fwd: Forward) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "anthropic-version": fwd.headers.get("anthropic-version") or "2023-06-01",
    }
    beta = fwd.headers.get("anthropic-beta")
    if beta:
        headers["anthropic-beta"] = beta
    if provider.api_key:
        headers["x-api-key"] = provider.api_key
    headers.update(provider.headers)
    return headers


class AnthropicUpstream:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def count_tokens(self, fwd: Forward) -> int:
        provider = fwd.channel.provider
        raw = await self._http.read(provider, await self._post(fwd, stream=False, count=True))
        try:
            count = orjson.loads(raw)["input_tokens"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise UpstreamError.malformed(provider.name, "count_tokens reply") from None
        if not isinstance(count, int):
            raise UpstreamError.malformed(provider.name, "input_tokens is not an integer")
        return count

    async def _post(
        self, fwd: Forward, *, stream: bool, count: bool = False
    ) -> aiohttp.ClientResponse:
        provider = fwd.channel.provider
        try:
            body = rewrite_model(fwd.body, fwd.channel.model)
        except (orjson.JSONDecodeError, TypeError):
            raise UpstreamError.malformed(
                provider.name, "the request body is not a JSON object"
            ) from None
        return await self._http.post(
            provider,
            provider.base_url.rstrip("/")
            + ("/v1/messages/count_tokens" if count else "/v1/messages"),
            body,
            _headers(provider, fwd),
            upstream_error_message,
            stream=stream,
        )

    async def forward(self, fwd: Forward) -> Relayed:
        provider = fwd.channel.provider
        raw = await self._http.read(provider, await self._post(fwd, stream=False))
        try:
            body, usage = rewrite_response(raw, fwd.client_model)
        except (orjson.JSONDecodeError, ValueError) as exc:
            raise UpstreamError.malformed(provider.name, str(exc)[:300]) from None
        return Relayed(body, usage)

    async def forward_stream(self, fwd: Forward) -> AnthropicRelayStream:
        resp = await self._post(fwd, stream=True)
        return AnthropicRelayStream(fwd.channel.provider, resp, StreamRelay(fwd.client_model))


class AnthropicRelayStream:
    def __init__(
        self, provider: ProviderConfig, resp: aiohttp.ClientResponse, relay: StreamRelay
    ) -> None:
        self._provider = provider
        self._relay = relay
        self._events = HttpClient.events(provider, resp)

    @property
    def usage(self) -> ir.Usage:
        return self._relay.usage

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for event in self._events:
            try:
                yield self._relay.relay(event)
            except orjson.JSONDecodeError:
                raise UpstreamError.malformed(self._provider.name, "bad event data") from None
            if self._relay.stopped:
                return
        raise UpstreamError.malformed(self._provider.name, "the stream ended before message_stop")

    async def aclose(self) -> None:
        await self._events.aclose()
