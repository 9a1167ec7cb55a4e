"""A generation request, independent of any wire format."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from switchboard.ir.content import Message, Text

# The largest output limit a request may ask for: far above any model's, and small enough that
# what limits and budgets reserve for it stays a 64-bit integer at any price (and that servers
# reading it as a 32-bit integer do not overflow).
MAX_TOKENS = 2**31 - 1


class Tool(msgspec.Struct, frozen=True):
    name: str
    description: str | None
    input_schema: dict[str, Any]


class ServerTool(msgspec.Struct, frozen=True):
    """An Anthropic server tool (`web_search_20250305`, `web_fetch_20250910`...) the gateway
    runs itself for upstreams that have none (servertools/). `index`: its place in `tools`;
    `max_content_tokens`: web_fetch's, about how much of a fetched page the model reads."""

    name: Literal["web_search", "web_fetch"]
    type: str
    index: int
    max_uses: int | None = None
    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()
    max_content_tokens: int | None = None


class ToolChoice(msgspec.Struct, frozen=True):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool = False


class ThinkingConfig(msgspec.Struct, frozen=True):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = None


class ResponseFormat(msgspec.Struct, frozen=True):
    """Structured output: `json_schema` with its schema, or `json_object` (any JSON object)."""

    type: Literal["json_schema", "json_object"]
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


class Request(msgspec.Struct, frozen=True):
    model: str
    messages: tuple[Message, ...]
    max_tokens: int
    system: tuple[Text, ...] = ()
    stream: bool = False
    stop_sequences: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    user_id: str | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    response_format: ResponseFormat | None = None
    server_tools: tuple[ServerTool, ...] = ()
    # What the inbound decoder accepted but no upstream can be given (cache_control, citations,
    # server tools...). Carried so the loss report names it.
    dropped: tuple[str, ...] = ()
