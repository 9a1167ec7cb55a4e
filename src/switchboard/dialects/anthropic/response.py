"""IR response -> Anthropic Message JSON (for Anthropic clients), and an upstream's Message ->
IR response (for translated requests). The block and usage mappers are shared with the stream."""

from __future__ import annotations

from typing import Any, assert_never, cast, get_args

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.anthropic import wire


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


# An upstream's Message -> IR response (a translated request to an Anthropic-dialect upstream).

_decode_message = msgspec.json.Decoder(wire.MessageResponse).decode


def stop_reason(raw: str | None, notes: list[str]) -> ir.StopReason:
    for known in get_args(ir.StopReason):
        if raw == known:
            return cast(ir.StopReason, known)
    notes.append(f"unknown stop_reason '{raw}' mapped to end_turn")
    return "end_turn"


def usage(raw: wire.ResponseUsage | None, base: ir.Usage) -> ir.Usage:
    """Fields present overwrite `base` (the stream's counts are cumulative, never summed)."""
    if raw is None:
        return base

    def pick(value: int | None, default: int) -> int:
        return value if value is not None else default

    return ir.Usage(
        input_tokens=pick(raw.input_tokens, base.input_tokens),
        output_tokens=pick(raw.output_tokens, base.output_tokens),
        cache_read_tokens=pick(raw.cache_read_input_tokens, base.cache_read_tokens),
        cache_write_tokens=pick(raw.cache_creation_input_tokens, base.cache_write_tokens),
    )


def response_block(raw: dict[str, Any], notes: list[str]) -> ir.Block | None:
    """One content block, or None (and a note) for what the IR cannot carry: server tool traffic,
    new block types."""
    kind = raw.get("type")
    if kind == "text":
        text = msgspec.convert(raw, wire.ResponseText)
        if text.citations:
            notes.append("citations")
        return ir.Text(text.text)
    if kind == "thinking":
        thinking = msgspec.convert(raw, wire.ResponseThinking)
        return ir.Thinking(thinking.thinking, thinking.signature)
    if kind == "redacted_thinking":
        return ir.RedactedThinking(msgspec.convert(raw, wire.ResponseRedactedThinking).data)
    if kind == "tool_use":
        call = msgspec.convert(raw, wire.ResponseToolUse)
        return ir.ToolUse(call.id, call.name, call.input)
    notes.append(f"{kind} block")
    return None


def decode_response(body: bytes) -> tuple[ir.Response, list[str]]:
    """The response and the notes of what it could not carry. Raises msgspec errors on a body
    that is not a Message."""
    message = _decode_message(body)
    notes: list[str] = []
    blocks = [response_block(b, notes) for b in message.content]
    reason = stop_reason(message.stop_reason, notes)
    return (
        ir.Response(
            tuple(b for b in blocks if b is not None),
            reason,
            usage(message.usage, ir.Usage()),
            message.stop_sequence,
        ),
        notes,
    )
