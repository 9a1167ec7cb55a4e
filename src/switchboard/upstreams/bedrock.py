"""AWS Bedrock (`kind: bedrock`). Anthropic models speak the Messages API through InvokeModel
(bedrock_anthropic.py): Anthropic clients are relayed, others translated through the IR. Other
models speak Converse, translated through the IR (dialects/bedrock_converse/). Every request is
SigV4-signed (bedrock_sigv4.py); streamed replies come in the AWS event-stream framing
(bedrock_stream.py)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import orjson

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.config import ProviderConfig
from switchboard.dialects.anthropic import upstream_request as anthropic_request
from switchboard.dialects.anthropic.passthrough import StreamRelay, rewrite_response
from switchboard.dialects.anthropic.platforms import bedrock_foundation_model
from switchboard.dialects.anthropic.response import decode_response as anthropic_response
from switchboard.dialects.anthropic.stream import StreamDecoder as AnthropicDecoder
from switchboard.dialects.bedrock_converse import upstream_request as converse_request
from switchboard.dialects.bedrock_converse.errors import upstream_error_message
from switchboard.dialects.bedrock_converse.response import decode_response as converse_response
from switchboard.dialects.bedrock_converse.stream import StreamDecoder as ConverseDecoder
from switchboard.dialects.validation import dump_body, load_body
from switchboard.errors import InvalidRequest, UpstreamError
from switchboard.upstreams.anthropic import profile as anthropic_profile
from switchboard.upstreams.base import Call, Completion, Forward, Relayed
from switchboard.upstreams.bedrock_anthropic import (
    RELAYED,
    TRANSLATED,
    EventReader,
    RelayReader,
    for_invoke,
    invoke_body,
)
from switchboard.upstreams.bedrock_sigv4 import Signer
from switchboard.upstreams.bedrock_stream import (
    ConverseReader,
    EventStreamFraming,
    FrameSource,
    remap,
)
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import Reader, UpstreamStream


def is_anthropic(model: str) -> bool:
    """Claude on Bedrock: `anthropic.claude-...`, a cross-region profile `us.anthropic.claude-...`
    or an inference-profile ARN naming one."""
    return "anthropic." in model


def endpoint(provider: ProviderConfig) -> str:
    return (
        provider.base_url.rstrip("/")
        if provider.base_url
        else f"https://bedrock-runtime.{provider.region}.amazonaws.com"
    )


def _model_path(model: str) -> str:
    return "/model/" + quote(model, safe="")


class BedrockUpstream:
    def __init__(self, http: HttpClient) -> None:
        self._http = http
        self._signers: dict[str, Signer] = {}

    def _signer(self, provider: ProviderConfig) -> Signer:
        found = self._signers.get(provider.name)
        if found is None:
            found = self._signers[provider.name] = Signer(provider)
        return found

    @staticmethod
    def relays(channel: Channel) -> bool:
        """Whether an Anthropic client's body goes through as it is (Claude on Bedrock)."""
        return is_anthropic(channel.model)

    async def _post(
        self, channel: Channel, action: str, body: bytes, *, stream: bool, model: str | None = None
    ) -> Reply:
        provider = channel.provider
        url = endpoint(provider) + _model_path(model or channel.model) + "/" + action
        accept = "application/vnd.amazon.eventstream" if stream else "application/json"
        headers = await self._signer(provider).headers(url, body, accept)
        try:
            return await self._http.post(
                provider, url, body, headers, upstream_error_message, stream=stream
            )
        except UpstreamError as exc:
            raise remap(exc) from None

    # Relayed (Anthropic client, Claude on Bedrock): the client's body with Bedrock's changes.

    async def _forward(self, fwd: Forward, *, stream: bool) -> Reply:
        try:
            body = invoke_body(fwd.body, fwd.headers.get("anthropic-beta"))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            raise InvalidRequest(
                "the request body is not a JSON object the gateway can forward "
                "(numbers must be finite)"
            ) from None
        action = "invoke-with-response-stream" if stream else "invoke"
        return await self._post(fwd.channel, action, body, stream=stream)

    async def forward(self, fwd: Forward) -> Relayed:
        resp = await self._forward(fwd, stream=False)
        return await self._http.read_relayed(fwd, resp, rewrite_response)

    async def forward_stream(self, fwd: Forward) -> UpstreamStream[bytes]:
        resp = await self._forward(fwd, stream=True)
        provider = fwd.channel.provider
        redactor = self._http.redactor
        framing = EventStreamFraming(provider, redactor, RELAYED)
        reader = RelayReader(provider.name, StreamRelay(fwd.client_model), redactor, framing)
        source = FrameSource(provider, resp, framing)
        return UpstreamStream(provider, resp, reader, source=source)

    async def count_tokens(self, fwd: Forward) -> int:
        """CountTokens of a relayed Claude body, as InvokeModel would take it (CountTokens
        names foundation models: an inference profile's geography is taken off)."""
        try:
            invoke = for_invoke(load_body(fwd.body), fwd.headers.get("anthropic-beta"))
        except TypeError:
            raise InvalidRequest("the request body is not a JSON object") from None
        invoke.setdefault("max_tokens", 1)  # InvokeModel's body requires one; counts ignore it
        body = {"input": {"invokeModel": {"body": dump_body(invoke, fwd.body).decode()}}}
        channel = fwd.channel
        model = bedrock_foundation_model(channel.model)
        resp = await self._post(
            channel, "count-tokens", orjson.dumps(body), stream=False, model=model
        )
        return await self._http.read_count(channel.provider, resp, "inputTokens")

    # Translated: Claude through InvokeModel, other models through Converse.

    async def complete(self, call: Call) -> Completion:
        channel = call.channel
        if is_anthropic(channel.model):
            encoded = anthropic_request.encode_request(call.request, anthropic_profile(call))
            body = orjson.dumps(for_invoke(encoded.body, None))
            resp = await self._post(channel, "invoke", body, stream=False)
            parse: Callable[[bytes], tuple[ir.Response, list[str]]] = anthropic_response
            dropped = encoded.dropped
        else:
            converse = converse_request.encode_request(call.request, _converse_profile(call))
            resp = await self._post(channel, "converse", orjson.dumps(converse.body), stream=False)
            parse, dropped = converse_response, converse.dropped
        response, notes = await self._http.read_reply(channel.provider, resp, parse)
        return Completion(response, dropped + notes)

    async def stream(self, call: Call) -> UpstreamStream[list[ir.Event]]:
        channel = call.channel
        provider = channel.provider
        redactor = self._http.redactor
        if is_anthropic(channel.model):
            encoded = anthropic_request.encode_request(call.request, anthropic_profile(call))
            body = orjson.dumps(for_invoke(encoded.body, None))
            resp = await self._post(channel, "invoke-with-response-stream", body, stream=True)
            decoder = AnthropicDecoder(provider=provider.name)
            framing = EventStreamFraming(provider, redactor, TRANSLATED)
            reader: Reader[list[ir.Event]] = EventReader(provider.name, decoder, redactor, framing)
            dropped = encoded.dropped
        else:
            converse = converse_request.encode_request(call.request, _converse_profile(call))
            resp = await self._post(
                channel, "converse-stream", orjson.dumps(converse.body), stream=True
            )
            framing = EventStreamFraming(provider, redactor)
            reader = ConverseReader(ConverseDecoder(provider=provider.name), redactor)
            dropped = converse.dropped
        source = FrameSource(provider, resp, framing)
        return UpstreamStream(provider, resp, reader, dropped, source=source)


def _converse_profile(call: Call) -> converse_request.UpstreamProfile:
    p = call.profile
    return converse_request.UpstreamProfile(
        model_id=p.id,
        upstream_model=call.channel.model,
        max_output_tokens=p.max_output_tokens,
        vision=p.capabilities.vision,
        pdf=p.capabilities.pdf,
    )
