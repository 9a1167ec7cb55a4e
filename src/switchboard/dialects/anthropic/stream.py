"""IR stream events -> Anthropic SSE frames, one frame per event (one ASGI send each)."""

from __future__ import annotations

from typing import Any, assert_never

import orjson

from switchboard import ir
from switchboard.dialects.anthropic.response import block_json, usage_json
from switchboard.dialects.sse import frame

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
