"""A finished generation: content, why it stopped, and what it cost in tokens."""

from __future__ import annotations

from typing import Literal

import msgspec

from switchboard.ir.content import ResponseBlock

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
    # Server tools the gateway ran for the request (servertools/), billed per use.
    web_search_requests: int = 0
    web_fetch_requests: int = 0

    def __add__(self, other: Usage) -> Usage:
        """Two calls' usage together (a server tool loop calls the model more than once)."""
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.web_search_requests + other.web_search_requests,
            self.web_fetch_requests + other.web_fetch_requests,
        )


class Response(msgspec.Struct, frozen=True):
    content: tuple[ResponseBlock, ...]
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None
