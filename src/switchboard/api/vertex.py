"""`POST .../projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict`
and `:streamRawPredict`, and `.../models/count-tokens:rawPredict` (`...` is `/v1`, `/vertex/v1`,
`/vertex` or nothing): Vertex AI's Claude endpoints as Claude Code and the Anthropic SDKs' Vertex
clients speak them. The Anthropic dialect with the model in the URL and the version in the
body (dialects/anthropic/platforms.py); errors in Google's envelope, a stream's in Anthropic's
(its events are the Messages API's). Authenticated with a Switchboard key as the bearer token;
the project and location are not checked."""

from __future__ import annotations

import re

from switchboard.api.anthropic import INLET, count_tokens, serve_messages
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.exchange import Exchange
from switchboard.api.platform import platform_inbound
from switchboard.api.surface import Parts, SuffixHandler, SuffixRoute, Surface
from switchboard.dialects.anthropic.errors import error_event
from switchboard.dialects.anthropic.platforms import VERTEX, vertex_model_names
from switchboard.dialects.gemini.errors import error_body
from switchboard.errors import NotFound
from switchboard.kinds import Dialect

_PATH = re.compile(
    r"[^/]+/locations/[^/]+/publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/]+)"
    r":(?P<method>rawPredict|streamRawPredict)"
)
COUNT_TOKENS = "count-tokens"


class PredictHandler:
    def __init__(self, parts: Parts) -> None:
        self._parts = parts

    async def __call__(self, ex: Exchange, rest: str) -> None:
        match = _PATH.fullmatch(rest)
        if match is None:
            raise NotFound(f"no route for POST {ex.path[:200]}")
        if match["publisher"] != "anthropic":
            raise NotFound(
                f"publisher: {match['publisher'][:64]} (only publishers/anthropic is served)"
            )
        model, stream = match["model"], match["method"] == "streamRawPredict"
        parts = self._parts
        if model == COUNT_TOKENS:
            inbound = await platform_inbound(
                ex, parts, VERTEX, None, vertex_model_names, stream=None, count_tokens=True
            )
            async with cancel_on_disconnect(ex):
                await count_tokens(ex, parts.gateway, inbound)
            return
        inbound = await platform_inbound(
            ex, parts, VERTEX, model, vertex_model_names, stream=stream
        )
        async with cancel_on_disconnect(ex):
            await serve_messages(ex, parts.gateway, inbound)


def _predict(parts: Parts) -> SuffixHandler:
    return PredictHandler(parts)


def _metered(rest: str) -> bool:
    return f"/models/{COUNT_TOKENS}:" not in rest


SURFACE = Surface(
    name="vertex",
    dialect=Dialect("vertex"),
    inlet=INLET,
    prefixes=("/vertex", ""),
    routes=(),
    suffix_routes=(
        SuffixRoute("POST", "/v1/projects/", _predict, metered=_metered),
        SuffixRoute("POST", "/projects/", _predict, metered=_metered),
    ),
    error_body=error_body,
    error_event=error_event,
)
