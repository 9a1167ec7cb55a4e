"""Upstreams that speak the Gemini API (`generateContent`, `streamGenerateContent?alt=sse`):
Google's Gemini API with an API key, and the Gemini models of Vertex AI (upstreams/vertex.py,
which brings its own URL and OAuth header). Every client is translated through the IR."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import orjson

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.config import ProviderConfig
from switchboard.dialects.gemini.errors import retry_delay, upstream_error_message
from switchboard.dialects.gemini.response import decode_response
from switchboard.dialects.gemini.stream import StreamDecoder
from switchboard.dialects.gemini.upstream_request import (
    Encoded,
    UpstreamProfile,
    encode_request,
    profile_for,
)
from switchboard.dialects.sse import SSEEvent
from switchboard.errors import UpstreamError
from switchboard.signing import ThinkingSigner
from switchboard.upstreams.base import Call, Completion
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.profiles import ProfileCache
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import DecodingReader, UpstreamStream


class GeminiCaller:
    """The Gemini dialect over HTTP, for whoever knows the URL and the auth header."""

    def __init__(self, http: HttpClient, signer: ThinkingSigner) -> None:
        self._http = http
        self._signer = signer
        self._profile = ProfileCache(self._make_profile)

    def _make_profile(self, call: Call) -> UpstreamProfile:
        p = call.profile
        return profile_for(
            p.id,
            call.channel.model,
            max_output_tokens=p.max_output_tokens,
            vision=p.capabilities.vision,
            pdf=p.capabilities.pdf,
            thinking=p.capabilities.thinking,
            unseal=self._signer.unseal,
        )

    def _encode(self, call: Call) -> Encoded:
        return encode_request(call.request, self._profile(call))

    async def _post(
        self,
        provider: ProviderConfig,
        url: str,
        encoded: Encoded,
        headers: Mapping[str, str],
        *,
        stream: bool,
    ) -> Reply:
        return await self._http.post(
            provider,
            url,
            orjson.dumps(encoded.body),
            headers,
            upstream_error_message,
            stream=stream,
            read_retry=retry_delay,
        )

    async def complete(self, call: Call, base: str, headers: Mapping[str, str]) -> Completion:
        """`base`: the model's URL up to the method (`.../models/gemini-2.5-pro`)."""
        provider = call.channel.provider
        encoded = self._encode(call)
        resp = await self._post(provider, base + ":generateContent", encoded, headers, stream=False)
        response, notes = await self._http.read_reply(
            provider, resp, lambda raw: decode_response(raw, encoded.tool_names, self._signer.seal)
        )
        return Completion(response, encoded.dropped + notes)

    async def count_tokens(self, call: Call, base: str, headers: Mapping[str, str]) -> int:
        """`:countTokens` of the request as it would be sent (its `generateContentRequest`,
        so the system instruction and tools count too)."""
        provider = call.channel.provider
        request = {"model": "models/" + call.channel.model, **self._encode(call).body}
        resp = await self._http.post(
            provider,
            base + ":countTokens",
            orjson.dumps({"generateContentRequest": request}),
            headers,
            upstream_error_message,
            stream=False,
            read_retry=retry_delay,
        )
        return await self._http.read_count(provider, resp, "totalTokens")

    async def stream(
        self, call: Call, base: str, headers: Mapping[str, str]
    ) -> UpstreamStream[list[ir.Event]]:
        provider = call.channel.provider
        encoded = self._encode(call)
        url = base + ":streamGenerateContent?alt=sse"
        resp = await self._post(provider, url, encoded, headers, stream=True)
        decoder = StreamDecoder(
            provider=provider.name,
            input_estimate=call.input_estimate,
            tool_names=encoded.tool_names,
            seal=self._signer.seal,
        )
        reader = EventReader(decoder, self._http.redactor)
        return UpstreamStream(provider, resp, reader, encoded.dropped)


def _headers(channel: Channel) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json"}
    if channel.api_key:
        headers["x-goog-api-key"] = channel.api_key  # a header: a `?key=` URL ends up in logs
    headers.update(channel.provider.headers)
    return headers


class GeminiUpstream:
    """Google's Gemini API: `{base_url}/models/{model}:generateContent`, an API key."""

    def __init__(self, http: HttpClient, signer: ThinkingSigner) -> None:
        self._caller = GeminiCaller(http, signer)

    @staticmethod
    def _base(channel: Channel) -> str:
        return channel.provider.base_url.rstrip("/") + "/models/" + quote(channel.model, safe="")

    async def complete(self, call: Call) -> Completion:
        return await self._caller.complete(call, self._base(call.channel), _headers(call.channel))

    async def stream(self, call: Call) -> UpstreamStream[list[ir.Event]]:
        return await self._caller.stream(call, self._base(call.channel), _headers(call.channel))

    async def count_tokens(self, call: Call) -> int | None:
        channel = call.channel
        return await self._caller.count_tokens(call, self._base(channel), _headers(channel))


class EventReader(DecodingReader[StreamDecoder]):
    """A translated stream: Gemini chunks decoded into IR event batches. Gemini has no end
    marker (the chunk with a `finishReason` is the last), so the stream ends at end of reply
    (`done` stays False)."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        decoder = self._decoder
        batch: list[ir.Event] = []
        for event in events:
            if event.data:
                try:
                    batch += decoder.feed(event.data)
                except UpstreamError as exc:  # an error chunk, in the upstream's words
                    raise self._redactor.error(exc) from None
        return batch

    def end(self) -> list[ir.Event]:
        return self._decoder.finish()
