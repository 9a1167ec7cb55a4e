"""A finished generation: content, why it stopped, and what it cost in tokens."""

from __future__ import annotations

from typing import Literal

import msgspec

from switchboard.ir.content import Block

StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]


class Usage(msgspec.Struct, frozen=True):
    """Token counts as Anthropic reports them: `input_tokens` excludes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class Response(msgspec.Struct, frozen=True):
    content: tuple[Block, ...]
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None
