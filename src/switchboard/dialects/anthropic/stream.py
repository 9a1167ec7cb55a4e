"""IR stream events -> Anthropic SSE frames, one frame per event (one ASGI send each); and an
Anthropic upstream's events -> IR events."""

from __future__ import annotations

from typing import Any, assert_never

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.anthropic import wire
from switchboard.dialects.anthropic.response import (
    block_json,
    response_block,
    stop_reason,
    usage,
    usage_json,
)
from switchboard.dialects.sse import frame
from switchboard.errors import UpstreamError

_PING = frame("ping", b'{"type": "ping"}')
_STOP = frame("message_stop", b'{"type":"message_stop"}')


class StreamEncoder:
    """Stateless but for the message identity and the one `ping` after the first block starts,
    where the real API sends it."""

    __slots__ = ("_message_id", "_model", "_pinged")

    def __init__(self, *, model: str, message_id: str) -> None:
        self._model = model
        self._message_id = message_id
        self._pinged = False

    def encode(self, event: ir.Event) -> bytes:
        match event:
            case ir.TextDelta():
                return (
                    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                    + str(event.index).encode()
                    + b',"delta":{"type":"text_delta","text":'
                    + orjson.dumps(event.text)
                    + b"}}\n\n"
                )
            case ir.InputJsonDelta():
                return _delta(event.index, "input_json_delta", "partial_json", event.partial_json)
            case ir.ThinkingDelta():
                return _delta(event.index, "thinking_delta", "thinking", event.thinking)
            case ir.SignatureDelta():
                return _delta(event.index, "signature_delta", "signature", event.signature)
            case ir.BlockStart():
                block = block_json(event.block)
                out = frame(
                    "content_block_start",
                    orjson.dumps(
                        {
                            "type": "content_block_start",
                            "index": event.index,
                            "content_block": block,
                        }
                    ),
                )
                if not self._pinged:
                    self._pinged = True
                    out += _PING
                return out
            case ir.BlockStop():
                return frame(
                    "content_block_stop",
                    b'{"type":"content_block_stop","index":' + str(event.index).encode() + b"}",
                )
            case ir.MessageStart():
                message: dict[str, Any] = {
                    "id": self._message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": self._model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage_json(event.usage),
                }
                return frame(
                    "message_start", orjson.dumps({"type": "message_start", "message": message})
                )
            case ir.MessageDelta():
                return frame(
                    "message_delta",
                    orjson.dumps(
                        {
                            "type": "message_delta",
                            "delta": {
                                "stop_reason": event.stop_reason,
                                "stop_sequence": event.stop_sequence,
                            },
                            "usage": usage_json(event.usage),
                        }
                    ),
                )
            case ir.MessageStop():
                return _STOP
            case _:
                assert_never(event)


def _delta(index: int, kind: str, field: str, value: str) -> bytes:
    return frame(
        "content_block_delta",
        orjson.dumps(
            {"type": "content_block_delta", "index": index, "delta": {"type": kind, field: value}}
        ),
    )


# An upstream's Messages stream -> IR events (a translated request to an Anthropic upstream).

_decode_event = msgspec.json.Decoder(wire.StreamEvent).decode

# An in-stream `error` event's type -> the HTTP status it would have had.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class StreamDecoder:
    """Feed it each event's data. The upstream already speaks the IR's grammar; blocks the IR
    cannot carry (server tools, redacted thinking in a stream) are skipped and noted, and the
    indices of the rest renumbered so they stay dense."""

    def __init__(self, *, provider: str) -> None:
        self._provider = provider
        self._index: dict[int, int] = {}  # upstream block index -> IR block index
        self.usage = ir.Usage()
        self.notes: list[str] = []
        self.started = False
        self.finished = False

    def feed(self, data: bytes) -> list[ir.Event]:
        try:
            event = _decode_event(data)
        except msgspec.DecodeError as exc:
            raise UpstreamError.malformed(self._provider, f"bad stream event: {exc}") from None
        kind = event.type
        if kind == "error":
            err = event.error or wire.ErrorDetail()
            raise UpstreamError.from_status(
                _ERROR_STATUS.get(err.type or "", 502),
                f"error in stream: {err.message or err.type or 'unknown'}",
                provider=self._provider,
            )
        if kind == "message_start":
            self.started = True
            message = event.message or wire.MessageResponse()
            self.usage = usage(message.usage, self.usage)
            return [ir.MessageStart(self.usage)]
        if not self.started:
            if kind == "ping":
                return []
            raise UpstreamError.malformed(self._provider, f"{kind} before message_start")
        if kind == "content_block_start":
            return self._start(event)
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_stop":
            index = self._index.get(event.index if event.index is not None else -1)
            return [ir.BlockStop(index)] if index is not None else []
        if kind == "message_delta":
            self.usage = usage(event.usage, self.usage)
            delta = event.delta or wire.EventDelta()
            reason = stop_reason(delta.stop_reason, self.notes)
            return [ir.MessageDelta(reason, self.usage, delta.stop_sequence)]
        if kind == "message_stop":
            self.finished = True
            return [ir.MessageStop()]
        return []  # ping, and event types newer than this code: clients must ignore them

    def _start(self, event: wire.StreamEvent) -> list[ir.Event]:
        if event.index is None or event.content_block is None:
            raise UpstreamError.malformed(self._provider, "content_block_start without a block")
        block = response_block(event.content_block, self.notes)
        match block:
            case ir.Text() | ir.Thinking() | ir.ToolUse():
                index = self._index[event.index] = len(self._index)
                return [ir.BlockStart(index, block)]
            case ir.RedactedThinking():
                self.notes.append("redacted_thinking")
                return []
            case None:
                return []
            case ir.Image() | ir.Document() | ir.ToolResult():
                self.notes.append(f"{type(block).__name__} in a response")
                return []
            case _:
                assert_never(block)

    def _delta(self, event: wire.StreamEvent) -> list[ir.Event]:
        index = self._index.get(event.index if event.index is not None else -1)
        delta = event.delta
        if index is None or delta is None:
            return []
        if delta.type == "text_delta" and delta.text is not None:
            return [ir.TextDelta(index, delta.text)]
        if delta.type == "input_json_delta" and delta.partial_json is not None:
            return [ir.InputJsonDelta(index, delta.partial_json)]
        if delta.type == "thinking_delta" and delta.thinking is not None:
            return [ir.ThinkingDelta(index, delta.thinking)]
        if delta.type == "signature_delta" and delta.signature is not None:
            return [ir.SignatureDelta(index, delta.signature)]
        self.notes.append(f"{delta.type} in a stream")
        return []
