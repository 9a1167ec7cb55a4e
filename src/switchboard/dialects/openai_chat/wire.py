"""OpenAI chat-completions replies as typed structs, tolerant of vendor variants: reasoning as
`reasoning_content` or `reasoning`, usage in the chunk or inside the choice (Moonshot), vLLM's
`stop_reason` and SGLang's `matched_stop`, arguments as a string or an object."""

from __future__ import annotations

from typing import Any

import msgspec


class FunctionCall(msgspec.Struct):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class ToolCall(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    function: FunctionCall | None = None


class PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    prompt_cache_hit_tokens: int | None = None  # DeepSeek


class Message(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None


class Choice(msgspec.Struct):
    message: Message | None = None
    finish_reason: str | None = None
    stop_reason: str | int | None = None  # vLLM: the matched stop string or token id
    matched_stop: str | int | None = None  # SGLang: the same
    index: int = 0


class ChatCompletion(msgspec.Struct):
    choices: list[Choice] = []
    usage: Usage | None = None


class Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None


class ChunkChoice(msgspec.Struct):
    delta: Delta | None = None
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    matched_stop: str | int | None = None
    usage: Usage | None = None  # Moonshot puts the final usage here
    index: int = 0


class ChunkError(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


class Chunk(msgspec.Struct):
    choices: list[ChunkChoice] | None = None
    usage: Usage | None = None
    error: ChunkError | str | None = None
