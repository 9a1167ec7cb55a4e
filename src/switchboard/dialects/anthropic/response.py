"""IR response -> Anthropic Message JSON."""

from __future__ import annotations

from typing import Any, assert_never

import orjson

from switchboard import ir


def usage_json(usage: ir.Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }


def block_json(block: ir.Block) -> dict[str, Any]:
    match block:
        case ir.Text():
            return {"type": "text", "text": block.text}
        case ir.ToolUse():
            return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
        case ir.Thinking():
            return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
        case ir.RedactedThinking():
            return {"type": "redacted_thinking", "data": block.data}
        case ir.Image() | ir.Document() | ir.ToolResult():
            raise ValueError(f"{type(block).__name__} is not a response block")
        case _:
            assert_never(block)


def encode_response(resp: ir.Response, *, model: str, message_id: str) -> bytes:
    return orjson.dumps(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block_json(b) for b in resp.content],
            "stop_reason": resp.stop_reason,
            "stop_sequence": resp.stop_sequence,
            "usage": usage_json(resp.usage),
        }
    )
