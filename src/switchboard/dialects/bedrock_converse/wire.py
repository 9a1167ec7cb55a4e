"""The Converse API's reply shapes (ConverseResponse and the ConverseStream events), as typed
records; unknown fields are ignored, as Bedrock adds them (`p` padding, metrics, traces)."""

from __future__ import annotations

from typing import Any

import msgspec


class Usage(msgspec.Struct, rename="camel"):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None


class ReasoningText(msgspec.Struct):
    text: str = ""
    signature: str | None = None


class ReasoningContent(msgspec.Struct, rename="camel"):
    reasoning_text: ReasoningText | None = None
    redacted_content: str | None = None


class ToolUse(msgspec.Struct, rename="camel"):
    tool_use_id: str
    name: str
    input: Any = None


class ContentBlock(msgspec.Struct, rename="camel"):
    text: str | None = None
    tool_use: ToolUse | None = None
    reasoning_content: ReasoningContent | None = None


class Message(msgspec.Struct):
    role: str = "assistant"
    content: list[ContentBlock] = []


class Output(msgspec.Struct):
    message: Message | None = None


class ConverseResponse(msgspec.Struct, rename="camel"):
    output: Output
    stop_reason: str | None = None
    usage: Usage | None = None


# ConverseStream: the event's name is its `:event-type` header; the payload is its body.


class ToolUseStart(msgspec.Struct, rename="camel"):
    tool_use_id: str
    name: str


class BlockStartBody(msgspec.Struct, rename="camel"):
    tool_use: ToolUseStart | None = None


class ContentBlockStart(msgspec.Struct, rename="camel"):
    content_block_index: int
    start: BlockStartBody | None = None


class ToolUseDelta(msgspec.Struct):
    input: str = ""


class ReasoningDelta(msgspec.Struct, rename="camel"):
    text: str | None = None
    signature: str | None = None
    redacted_content: str | None = None


class Delta(msgspec.Struct, rename="camel"):
    text: str | None = None
    tool_use: ToolUseDelta | None = None
    reasoning_content: ReasoningDelta | None = None


class ContentBlockDelta(msgspec.Struct, rename="camel"):
    content_block_index: int
    delta: Delta


class ContentBlockStop(msgspec.Struct, rename="camel"):
    content_block_index: int


class MessageStop(msgspec.Struct, rename="camel"):
    stop_reason: str | None = None


class Metadata(msgspec.Struct):
    usage: Usage | None = None


class ErrorBody(msgspec.Struct):
    message: str | None = None
