"""IR response -> Anthropic Message JSON (for Anthropic clients), and an upstream's Message ->
IR response (for translated requests). The block and usage mappers are shared with the stream."""

from __future__ import annotations

import base64
from typing import Any, assert_never, cast, get_args

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.anthropic import wire


def usage_json(usage: ir.Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.web_search_requests or usage.web_fetch_requests:
        out["server_tool_use"] = {
            "web_search_requests": usage.web_search_requests,
            "web_fetch_requests": usage.web_fetch_requests,
        }
    return out


def _search_result_json(block: ir.WebSearchResult) -> dict[str, Any]:
    content: list[dict[str, Any]] | dict[str, Any]
    if block.error_code is not None:
        content = {"type": "web_search_tool_result_error", "error_code": block.error_code}
    else:
        content = [
            {
                "type": "web_search_result",
                "url": hit.url,
                "title": hit.title,
                # Opaque to clients, as Anthropic's is; it comes back in later turns, and
                # the decoder gives the model the page text again (request.py).
                "encrypted_content": opaque(hit.snippet),
                "page_age": hit.page_age,
            }
            for hit in block.hits
        ]
    return {"type": "web_search_tool_result", "tool_use_id": block.tool_use_id, "content": content}


def _fetch_result_json(block: ir.WebFetchResult) -> dict[str, Any]:
    content: dict[str, Any]
    if block.error_code is not None:
        content = {"type": "web_fetch_tool_result_error", "error_code": block.error_code}
    else:
        source = (
            {"type": "text", "media_type": "text/plain", "data": block.text}
            if block.text is not None
            else {"type": "base64", "media_type": block.media_type, "data": block.data}
        )
        content = {
            "type": "web_fetch_result",
            "url": block.url,
            "content": {"type": "document", "source": source, "title": None, "citations": None},
            "retrieved_at": block.retrieved_at,
        }
    return {"type": "web_fetch_tool_result", "tool_use_id": block.tool_use_id, "content": content}


def opaque(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def block_json(block: ir.ResponseBlock) -> dict[str, Any]:
    match block:
        case ir.Text():
            return {"type": "text", "text": block.text}
        case ir.ToolUse():
            return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
        case ir.Thinking():
            return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
        case ir.RedactedThinking():
            return {"type": "redacted_thinking", "data": block.data}
        # (after the blocks every reply has: each case is an isinstance test)
        case ir.ServerToolUse():
            return {
                "type": "server_tool_use",
                "id": block.id,
                "name": block.name,
                "input": block.input,
            }
        case ir.WebSearchResult():
            return _search_result_json(block)
        case ir.WebFetchResult():
            return _fetch_result_json(block)
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
