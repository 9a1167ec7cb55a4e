"""Builders for Anthropic Messages upstream replies (anthropic-messages-api.md sections 4, 5, 7)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .replies import JsonReply, SSEReply
from .sse import format_sse


@dataclass(frozen=True)
class ToolUseBlock:
    """A streamed tool_use block: ``json_pieces`` are sent as successive ``partial_json`` deltas."""

    name: str
    json_pieces: list[str] = field(default_factory=lambda: ["", "{}"])
    id: str = "toolu_mock_1"


def _message_id() -> str:
    return f"msg_mock{uuid.uuid4().hex[:20]}"


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def anthropic_event(data: dict[str, Any]) -> str:
    """One correctly named frame: the ``event:`` name is always ``data["type"]``."""
    return format_sse(data, event=str(data["type"]))


def anthropic_message(
    text: str = "ok",
    *,
    stop_reason: str = "end_turn",
    usage: tuple[int, int] = (10, 2),
    model: str = "claude-upstream",
    content: list[dict[str, Any]] | None = None,
) -> JsonReply:
    """A non-streaming ``Message``; ``content`` replaces the single text block when given."""
    blocks = content if content is not None else [{"type": "text", "text": text}]
    body = {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(*usage),
    }
    return JsonReply(body)


def _block_events(
    index: int, start: dict[str, Any], deltas: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": index, "content_block": start}
    ]
    events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
    events.append({"type": "content_block_stop", "index": index})
    return events


def anthropic_stream_events(
    pieces: list[str] | None = None,
    *,
    stop_reason: str = "end_turn",
    usage: tuple[int, int] = (10, 2),
    model: str = "claude-upstream",
    thinking: str | None = None,
    tool_uses: list[ToolUseBlock] | None = None,
) -> list[dict[str, Any]]:
    """The event dicts behind :func:`anthropic_stream`, for tests that want to corrupt them."""
    pieces = ["Hel", "lo"] if pieces is None else pieces
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if thinking is not None:
        blocks.append(
            (
                {"type": "thinking", "thinking": "", "signature": ""},
                [
                    {"type": "thinking_delta", "thinking": thinking},
                    {"type": "signature_delta", "signature": "sig_mock"},
                ],
            )
        )
    # A text block is sent when there is text, or when it would otherwise be an empty message.
    if pieces or not (blocks or tool_uses):
        blocks.append(
            ({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces])
        )
    for tool in tool_uses or []:
        start = {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in tool.json_pieces]
        blocks.append((start, deltas))

    message = {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(usage[0], 1),
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    for index, (start, deltas) in enumerate(blocks):
        block = _block_events(index, start, deltas)
        if index == 0:
            # The real API sends its ping right after the first content_block_start.
            block.insert(1, {"type": "ping"})
        events += block
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": usage[1]},
        }
    )
    events.append({"type": "message_stop"})
    return events


def anthropic_stream(
    pieces: list[str] | None = None,
    *,
    stop_reason: str = "end_turn",
    usage: tuple[int, int] = (10, 2),
    model: str = "claude-upstream",
    delay: float = 0.0,
    thinking: str | None = None,
    tool_uses: list[ToolUseBlock] | None = None,
) -> SSEReply:
    """A Messages event stream with the exact grammar of reference section 5.2/5.3.

    ``pieces`` defaults to ``["Hel", "lo"]``; block order is thinking, text, then tool_use blocks.
    """
    events = anthropic_stream_events(
        pieces,
        stop_reason=stop_reason,
        usage=usage,
        model=model,
        thinking=thinking,
        tool_uses=tool_uses,
    )
    return SSEReply([anthropic_event(e) for e in events], delay=delay)


def anthropic_error_event(type_: str, message: str) -> str:
    """A mid-stream ``event: error`` frame (sent after the 200, section 7.4)."""
    return anthropic_event({"type": "error", "error": {"type": type_, "message": message}})


def anthropic_error(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JsonReply:
    """The Anthropic error envelope ``{"type": "error", "error": {type, message}}``."""
    body = {"type": "error", "error": {"type": type_, "message": message}}
    return JsonReply(body, status=status, headers=dict(headers or {}))
