"""Same-format traffic (a Responses client, a provider that serves the Responses API): the body
goes through with only `model` changed, and the reply comes back with `model` set to the
client's name while usage is read on the way. In a stream only the events that carry the
response object are rewritten; deltas go through byte for byte."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard import ir
from switchboard.dialects.openai_chat.passthrough import StreamError
from switchboard.dialects.passthrough import rewrite_reply
from switchboard.dialects.sse import SSEEvent, frame
from switchboard.dialects.validation import dump_body, load_body

__all__ = ["StreamError", "StreamRelay", "rewrite_request", "rewrite_response", "usage_of"]

# The events that carry the whole response object (its `model`, and at the end its usage).
_WITH_RESPONSE = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


def rewrite_request(body: bytes, model: str) -> bytes:
    data = load_body(body)
    if not isinstance(data, dict):
        raise ValueError("the request body is not a JSON object")
    data["model"] = model
    return dump_body(data, body)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def usage_of(raw: Any) -> ir.Usage:
    """Responses usage -> IR usage (whose input_tokens exclude cache reads and writes)."""
    if not isinstance(raw, dict):
        return ir.Usage()
    details = raw.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    cached = _count(details.get("cached_tokens"))
    written = _count(details.get("cache_write_tokens"))
    return ir.Usage(
        input_tokens=max(_count(raw.get("input_tokens")) - cached - written, 0),
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def rewrite_response(body: bytes, model: str) -> tuple[bytes, ir.Usage]:
    return rewrite_reply(body, model, usage_of)


class StreamRelay:
    """Relays events with the response's `model` rewritten; done at the terminal event."""

    __slots__ = ("_model", "done", "usage")

    def __init__(self, model: str) -> None:
        self._model = model
        self.usage = ir.Usage()
        self.done = False  # a terminal event was seen

    def relay(self, event: SSEEvent) -> bytes:
        kind = event.event
        if kind == "error":
            data = orjson.loads(event.data)
            message = data.get("message") if isinstance(data, dict) else None
            code = data.get("code") if isinstance(data, dict) else None
            status = code if isinstance(code, int) and 400 <= code < 600 else 502
            raise StreamError(str(message or "stream error"), status)
        if kind not in _WITH_RESPONSE:
            return event.raw if event.data else b""
        data = orjson.loads(event.data)
        response = data.get("response") if isinstance(data, dict) else None
        if not isinstance(response, dict):
            raise ValueError(f"a {kind} event without its response")
        response["model"] = self._model
        if kind in _TERMINAL:
            self.usage = usage_of(response.get("usage"))
            self.done = True
        return frame(kind, orjson.dumps(data))
