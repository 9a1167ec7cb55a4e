"""Same-format traffic (Anthropic client, Anthropic upstream): the body goes through with only
`model` changed, and the reply comes back with `model` set to the client's name while usage is
read on the way."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard import ir
from switchboard.dialects.passthrough import rewrite_reply
from switchboard.dialects.sse import SSEEvent, frame
from switchboard.dialects.validation import dump_body, load_body


def rewrite_model(body: bytes, model: str) -> bytes:
    data = load_body(body)
    data["model"] = model
    return dump_body(data, body)


def _usage(raw: Any, base: ir.Usage) -> ir.Usage:
    if not isinstance(raw, dict):
        return base

    def num(key: str, default: int) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else default

    # The searches and fetches Anthropic ran (searches are billed per use).
    tools = raw.get("server_tool_use")
    tools = tools if isinstance(tools, dict) else {}

    def uses(key: str, default: int) -> int:
        value = tools.get(key)
        return value if isinstance(value, int) and value >= 0 else default

    return ir.Usage(
        input_tokens=num("input_tokens", base.input_tokens),
        output_tokens=num("output_tokens", base.output_tokens),
        cache_read_tokens=num("cache_read_input_tokens", base.cache_read_tokens),
        cache_write_tokens=num("cache_creation_input_tokens", base.cache_write_tokens),
        web_search_requests=uses("web_search_requests", base.web_search_requests),
        web_fetch_requests=uses("web_fetch_requests", base.web_fetch_requests),
    )


def rewrite_response(body: bytes, model: str) -> tuple[bytes, ir.Usage]:
    return rewrite_reply(body, model, _reply_usage)


def _reply_usage(raw: Any) -> ir.Usage:
    return _usage(raw, ir.Usage())


class StreamRelay:
    """Relays an Anthropic event stream byte for byte, except `message_start`, whose model is
    rewritten. Usage is read from `message_start` and `message_delta` (cumulative, overwriting,
    as the SDKs merge it)."""

    __slots__ = ("_model", "stopped", "usage")

    def __init__(self, model: str) -> None:
        self._model = model
        self.usage = ir.Usage()
        self.stopped = False

    def relay(self, event: SSEEvent) -> bytes:
        name = event.event
        if name == "message_start":
            data = orjson.loads(event.data)
            message = data.get("message") if isinstance(data, dict) else None
            if isinstance(message, dict):
                message["model"] = self._model
                self.usage = _usage(message.get("usage"), self.usage)
                return frame("message_start", orjson.dumps(data))
        elif name == "message_delta":
            data = orjson.loads(event.data)
            if isinstance(data, dict):
                self.usage = _usage(data.get("usage"), self.usage)
        elif name in ("message_stop", "error"):
            self.stopped = True  # an upstream's own `event: error` ends the stream as it is
        return event.raw
