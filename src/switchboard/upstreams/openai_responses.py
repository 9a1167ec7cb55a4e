"""OpenAI-kind providers that also serve the Responses API (`responses_api: true`): Responses
requests relayed to `{base_url}/responses` unchanged but for `model` (dialects/openai_responses/
passthrough.py). A relay only: translated requests to these providers go to chat completions
(upstreams/openai.py)."""

from __future__ import annotations

from switchboard.catalog import Channel
from switchboard.dialects.openai_responses.passthrough import (
    StreamRelay,
    rewrite_request,
    rewrite_response,
)
from switchboard.errors import UpstreamError
from switchboard.upstreams.base import Forward, Relayed
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.openai import OpenAIRelayReader, relay_post
from switchboard.upstreams.reply import Reply
from switchboard.upstreams.stream import UpstreamStream


def speaks_responses(channel: Channel) -> bool:
    return channel.provider.responses_api


class ResponsesRelay:
    def __init__(self, http: HttpClient) -> None:
        self._http = http

    async def _post(self, fwd: Forward, *, stream: bool) -> Reply:
        return await relay_post(self._http, fwd, "/responses", rewrite_request, stream)

    async def forward(self, fwd: Forward) -> Relayed:
        resp = await self._post(fwd, stream=False)
        return await self._http.read_relayed(fwd, resp, rewrite_response)

    async def forward_stream(self, fwd: Forward) -> UpstreamStream[bytes]:
        resp = await self._post(fwd, stream=True)
        provider = fwd.channel.provider
        reader = RelayReader(provider.name, StreamRelay(fwd.client_model), self._http.redactor)
        return UpstreamStream(provider, resp, reader)


class RelayReader(OpenAIRelayReader[StreamRelay]):
    """A relayed Responses stream."""

    __slots__ = ()

    BAD = "bad stream event"

    def end(self) -> bytes:
        raise UpstreamError.malformed(self._name, "the stream ended before the response did")
