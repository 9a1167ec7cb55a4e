"""Upstreams that speak the Anthropic Messages API (Anthropic itself, and the Anthropic routes of
DeepSeek, Moonshot, DashScope, Z.ai, MiniMax...). Anthropic clients are relayed; other clients'
requests are translated through the IR."""

from __future__ import annotations

import orjson

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.dialects.anthropic.errors import upstream_error_message
from switchboard.dialects.anthropic.passthrough import StreamRelay, rewrite_model, rewrite_response
from switchboard.dialects.anthropic.response import decode_response
from switchboard.dialects.anthropic.stream import StreamDecoder
from switchboard.dialects.anthropic.upstream_request import UpstreamProfile, encode_request
from switchboard.dialects.sse import SSEEvent
from switchboard.errors import InvalidRequest, UpstreamError
from switchboard.redact import Redactor
from switchboard.upstreams.base import Call, Completion, Forward, Relayed
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import DecodingReader, RelayingReader, UpstreamStream

# Translated requests may carry temperature/top_p/top_k, which only this version accepts.
TRANSLATED_VERSION = "2023-06-01"


def _headers(channel: Channel, version: str | None, beta: str | None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "anthropic-version": version or TRANSLATED_VERSION,
    }
    if beta:
        headers["anthropic-beta"] = beta
    if channel.api_key:
        headers["x-api-key"] = channel.api_key
    headers.update(channel.provider.headers)
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

    async def _post(self, fwd: Forward, *, stream: bool, count: bool = False) -> Reply:
        provider = fwd.channel.provider
        try:
            body = rewrite_model(fwd.body, fwd.channel.model)
        except (orjson.JSONDecodeError, TypeError):
            # The client's body, not the upstream's reply: a client mistake, never retried.
            raise InvalidRequest(
                "the request body is not a JSON object the gateway can forward "
                "(numbers must be finite)"
            ) from None
        return await self._http.post(
            provider,
            provider.base_url.rstrip("/")
            + ("/v1/messages/count_tokens" if count else "/v1/messages"),
            body,
            _headers(
                fwd.channel,
                fwd.headers.get("anthropic-version"),
                fwd.headers.get("anthropic-beta"),
            ),
            upstream_error_message,
            stream=stream,
        )

    async def forward(self, fwd: Forward) -> Relayed:
        resp = await self._post(fwd, stream=False)
        return await self._http.read_relayed(fwd, resp, rewrite_response)

    async def forward_stream(self, fwd: Forward) -> UpstreamStream[bytes]:
        resp = await self._post(fwd, stream=True)
        provider = fwd.channel.provider
        relay = StreamRelay(fwd.client_model)
        return UpstreamStream(
            provider, resp, RelayReader(provider.name, relay, self._http.redactor)
        )

    # Translated (non-Anthropic client): the IR request encoded for this upstream.

    async def _send(self, call: Call, body: dict[str, object], *, stream: bool) -> Reply:
        provider = call.channel.provider
        return await self._http.post(
            provider,
            provider.base_url.rstrip("/") + "/v1/messages",
            orjson.dumps(body),
            _headers(call.channel, None, None),
            upstream_error_message,
            stream=stream,
        )

    async def complete(self, call: Call) -> Completion:
        provider = call.channel.provider
        encoded = encode_request(call.request, profile(call))
        resp = await self._send(call, encoded.body, stream=False)
        response, notes = await self._http.read_reply(provider, resp, decode_response)
        return Completion(response, encoded.dropped + notes)

    async def stream(self, call: Call) -> UpstreamStream[list[ir.Event]]:
        encoded = encode_request(call.request, profile(call))
        resp = await self._send(call, encoded.body, stream=True)
        provider = call.channel.provider
        decoder = StreamDecoder(provider=provider.name)
        reader = EventReader(provider.name, decoder, self._http.redactor)
        return UpstreamStream(provider, resp, reader, encoded.dropped)


def profile(call: Call) -> UpstreamProfile:
    """How a call's model is encoded in the Messages API (also Claude's on Bedrock)."""
    p = call.profile
    return UpstreamProfile(
        model_id=p.id,
        upstream_model=call.channel.model,
        max_output_tokens=p.max_output_tokens,
        vision=p.capabilities.vision,
        pdf=p.capabilities.pdf,
    )


class EventReader(DecodingReader[StreamDecoder]):
    """A translated stream: Anthropic events decoded into IR event batches."""

    __slots__ = ("_name",)

    def __init__(self, name: str, decoder: StreamDecoder, redactor: Redactor) -> None:
        super().__init__(decoder, redactor)
        self._name = name

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        decoder = self._decoder
        batch: list[ir.Event] = []
        for event in events:
            if event.data:
                try:
                    batch += decoder.feed(event.data)
                except UpstreamError as exc:  # an `event: error`, in the upstream's words
                    raise self._redactor.error(exc) from None
            if decoder.finished:
                self.done = True
                break
        return batch

    def end(self) -> list[ir.Event]:
        raise UpstreamError.malformed(self._name, "the stream ended before message_stop")


class RelayReader(RelayingReader[StreamRelay]):
    """A relayed stream: Anthropic events passed on as they came, but for `model`."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> bytes:
        relay = self._relay
        out: list[bytes] = []
        for event in events:
            try:
                out.append(relay.relay(event))
            except orjson.JSONDecodeError:
                raise UpstreamError.malformed(self._name, "bad event data") from None
            if relay.stopped:
                if event.event == "error":  # relayed as it came: masked first
                    out[-1] = self._redactor.frame(out[-1])
                self.done = True
                break
        return b"".join(out)

    def end(self) -> bytes:
        raise UpstreamError.malformed(self._name, "the stream ended before message_stop")
