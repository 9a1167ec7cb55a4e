"""`POST /model/{model}/invoke` and `/model/{model}/invoke-with-response-stream` (also under
`/bedrock`): AWS Bedrock's InvokeModel for Claude, as Claude Code and the Anthropic SDKs'
Bedrock clients speak it. The Anthropic dialect in Bedrock's framing: the body is a Messages
body (dialects/anthropic/platforms.py), the stream the AWS event stream
(dialects/bedrock_invoke.py). Authenticated with a Switchboard key, not SigV4."""

from __future__ import annotations

from switchboard.api.anthropic import INLET, serve_messages
from switchboard.api.disconnect import cancel_on_disconnect
from switchboard.api.exchange import Exchange
from switchboard.api.platform import platform_inbound
from switchboard.api.streaming import Framing
from switchboard.api.surface import Parts, SuffixHandler, SuffixRoute, Surface
from switchboard.dialects import bedrock_invoke
from switchboard.dialects.anthropic.platforms import BEDROCK, bedrock_model_names
from switchboard.errors import NotFound
from switchboard.kinds import Dialect

# The action after the model id -> whether the reply streams.
ACTIONS = {"invoke": False, "invoke-with-response-stream": True}


def _action(rest: str) -> tuple[str, bool]:
    # Model ids may hold '/' (ARNs): the action is the last segment.
    model, _, action = rest.rpartition("/")
    stream = ACTIONS.get(action)
    if not model or stream is None:
        raise NotFound(f"no route for POST /model/{rest[:200]}")
    return model, stream


class InvokeHandler:
    def __init__(self, parts: Parts) -> None:
        self._parts = parts

    async def __call__(self, ex: Exchange, rest: str) -> None:
        model, stream = _action(rest)
        inbound = await platform_inbound(
            ex, self._parts, BEDROCK, model, bedrock_model_names, stream=stream
        )
        framing = Framing(bedrock_invoke.CONTENT_TYPE, bedrock_invoke.ChunkFramer())
        async with cancel_on_disconnect(ex):
            await serve_messages(
                ex, self._parts.gateway, inbound, framing, bedrock_invoke.error_event
            )


def _invoke(parts: Parts) -> SuffixHandler:
    return InvokeHandler(parts)


def _metered(rest: str) -> bool:
    return rest.rpartition("/")[2] in ACTIONS


SURFACE = Surface(
    name="bedrock",
    dialect=Dialect("bedrock"),
    inlet=INLET,
    prefixes=("/bedrock", ""),
    routes=(),
    suffix_routes=(SuffixRoute("POST", "/model/", _invoke, metered=_metered),),
    error_body=bedrock_invoke.error_body,
    error_event=bedrock_invoke.error_event,
    error_headers=bedrock_invoke.error_headers,
)
