"""Gemini `GenerateContentResponse` (a whole reply, or one `streamGenerateContent?alt=sse`
chunk: the same shape) and Google's error body, as typed structs. Field names are the API's
camelCase; unknown fields are ignored, since Google adds them often."""

from __future__ import annotations

from typing import Any

import msgspec


class FunctionCall(msgspec.Struct, rename="camel"):
    name: str = ""
    args: dict[str, Any] | None = None
    id: str | None = None


class Part(msgspec.Struct, rename="camel"):
    text: str | None = None
    thought: bool = False
    thought_signature: str | None = None
    function_call: FunctionCall | None = None


class Content(msgspec.Struct, rename="camel"):
    parts: list[Part] | None = None
    role: str | None = None


class Candidate(msgspec.Struct, rename="camel"):
    content: Content | None = None
    finish_reason: str | None = None
    finish_message: str | None = None
    index: int = 0


class UsageMetadata(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    cached_content_token_count: int = 0
    thoughts_token_count: int = 0
    tool_use_prompt_token_count: int = 0


class PromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None


class ErrorDetail(msgspec.Struct, rename="camel"):
    retry_delay: str | None = None  # google.rpc.RetryInfo: "30s", "1.5s"


class Status(msgspec.Struct):
    code: int | None = None
    message: str | None = None
    status: str | None = None  # RESOURCE_EXHAUSTED, INVALID_ARGUMENT...
    details: list[ErrorDetail] | None = None


class Response(msgspec.Struct, rename="camel"):
    candidates: list[Candidate] | None = None
    usage_metadata: UsageMetadata | None = None
    prompt_feedback: PromptFeedback | None = None
    model_version: str | None = None
    # Google may put an error object in a 200 stream (an error after the first byte).
    error: Status | None = None


class ErrorBody(msgspec.Struct):
    error: Status | None = None
