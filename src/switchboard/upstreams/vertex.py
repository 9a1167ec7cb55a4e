"""Vertex AI: Anthropic's models through `rawPredict` / `streamRawPredict` (the Messages body
with `anthropic_version: vertex-2023-10-16` and no `model`, since the model is in the URL), and
Gemini models through `generateContent` with the Gemini dialect. Which publisher serves a channel
is told by its upstream model name (`claude-*` is Anthropic's). Auth is an OAuth access token
(upstreams/google_auth.py); project and location are the provider's."""

from __future__ import annotations

from urllib.parse import quote

import orjson

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.config import ProviderConfig
from switchboard.dialects.anthropic.response import decode_response
from switchboard.dialects.anthropic.stream import StreamDecoder
from switchboard.dialects.anthropic.upstream_request import encode_request
from switchboard.dialects.gemini.errors import retry_delay, upstream_error_message
from switchboard.errors import UpstreamError
from switchboard.signing import ThinkingSigner
from switchboard.upstreams.anthropic import EventReader, profile
from switchboard.upstreams.base import Call, Completion
from switchboard.upstreams.gemini import GeminiCaller
from switchboard.upstreams.google_auth import AccessToken
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import UpstreamStream

ANTHROPIC_VERSION = "vertex-2023-10-16"


def host(provider: ProviderConfig) -> str:
    if provider.base_url:
        return provider.base_url.rstrip("/")
    if provider.location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{provider.location}-aiplatform.googleapis.com"


def model_url(channel: Channel) -> str:
    """`.../publishers/{anthropic|google}/models/{model}`, without the method."""
    p = channel.provider
    publisher = "anthropic" if channel.model.startswith("claude") else "google"
    return (
        f"{host(p)}/v1/projects/{quote(p.project or '', safe='')}"
        f"/locations/{quote(p.location, safe='')}/publishers/{publisher}"
        f"/models/{quote(channel.model, safe='@')}"
    )


class VertexUpstream:
    def __init__(self, http: HttpClient, signer: ThinkingSigner) -> None:
        self._http = http
        self._gemini = GeminiCaller(http, signer)
        self._tokens: dict[str, AccessToken] = {}
        self._urls: dict[tuple[str, str], str] = {}

    async def _headers(self, provider: ProviderConfig) -> dict[str, str]:
        token = self._tokens.get(provider.name)
        if token is None:
            token = self._tokens[provider.name] = AccessToken(provider, self._http.redactor)
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "authorization": f"Bearer {await token.get()}",
        }
        headers.update(provider.headers)
        return headers

    def _url(self, channel: Channel) -> str:
        key = (channel.provider.name, channel.model)
        found = self._urls.get(key)
        if found is None:
            found = self._urls[key] = model_url(channel)
        return found

    async def complete(self, call: Call) -> Completion:
        channel = call.channel
        headers = await self._headers(channel.provider)
        if not channel.model.startswith("claude"):
            try:
                return await self._gemini.complete(call, self._url(channel), headers)
            except UpstreamError as exc:
                self._refused(channel.provider, exc)
                raise
        body, dropped = _anthropic_body(call)
        resp = await self._post(call, self._url(channel) + ":rawPredict", body, headers, False)
        response, notes = await self._http.read_reply(channel.provider, resp, decode_response)
        return Completion(response, dropped + notes)

    async def stream(self, call: Call) -> UpstreamStream[list[ir.Event]]:
        channel = call.channel
        headers = await self._headers(channel.provider)
        if not channel.model.startswith("claude"):
            try:
                return await self._gemini.stream(call, self._url(channel), headers)
            except UpstreamError as exc:
                self._refused(channel.provider, exc)
                raise
        body, dropped = _anthropic_body(call)
        url = self._url(channel) + ":streamRawPredict"
        resp = await self._post(call, url, body, headers, True)
        provider = channel.provider
        decoder = StreamDecoder(provider=provider.name)
        reader = EventReader(provider.name, decoder, self._http.redactor)
        return UpstreamStream(provider, resp, reader, dropped)

    async def _post(
        self, call: Call, url: str, body: bytes, headers: dict[str, str], stream: bool
    ) -> Reply:
        # Vertex answers in Google's error body (quota, auth) or in Anthropic's (the model's
        # own errors); the Gemini reader reads both.
        try:
            return await self._http.post(
                call.channel.provider,
                url,
                body,
                headers,
                upstream_error_message,
                stream=stream,
                read_retry=retry_delay,
            )
        except UpstreamError as exc:
            self._refused(call.channel.provider, exc)
            raise

    def _refused(self, provider: ProviderConfig, exc: UpstreamError) -> None:
        if exc.upstream_status == 401:
            self._tokens[provider.name].invalidate()


def _anthropic_body(call: Call) -> tuple[bytes, list[str]]:
    encoded = encode_request(call.request, profile(call))
    body = encoded.body
    del body["model"]
    body["anthropic_version"] = ANTHROPIC_VERSION
    return orjson.dumps(body), encoded.dropped
