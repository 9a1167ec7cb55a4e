"""Content blocks and messages: the canonical form every dialect decodes into."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Text(msgspec.Struct, frozen=True, tag="text"):
    text: str


class Image(msgspec.Struct, frozen=True, tag="image"):
    """Either inline base64 `data` with its `media_type`, or a `url`."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class Document(msgspec.Struct, frozen=True, tag="document"):
    """A document as text (plain-text or content sources) or a PDF (base64 or url)."""

    text: str | None = None
    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    title: str | None = None
    context: str | None = None


class ToolUse(msgspec.Struct, frozen=True, tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]


class ToolResult(msgspec.Struct, frozen=True, tag="tool_result"):
    tool_use_id: str
    content: tuple[Text | Image, ...] = ()
    is_error: bool = False


class Thinking(msgspec.Struct, frozen=True, tag="thinking"):
    thinking: str
    signature: str = ""


class RedactedThinking(msgspec.Struct, frozen=True, tag="redacted_thinking"):
    data: str


Block = Text | Image | Document | ToolUse | ToolResult | Thinking | RedactedThinking

Role = Literal["user", "assistant", "system"]


class Message(msgspec.Struct, frozen=True):
    """One turn. `system` turns appear where a client put a system message mid-conversation."""

    role: Role
    content: tuple[Block, ...]
