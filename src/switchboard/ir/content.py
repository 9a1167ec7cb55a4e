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


# Server tools the gateway runs itself (servertools/): a reply's call and result blocks, as a
# client of Anthropic's API sees them. They are never sent upstream as such: the model called an
# ordinary function tool, and reads each result as the text `model_text()` gives.


class ServerToolUse(msgspec.Struct, frozen=True, tag="server_tool_use"):
    id: str  # srvtoolu_...
    name: str  # web_search, web_fetch
    input: dict[str, Any]


class SearchHit(msgspec.Struct, frozen=True):
    url: str
    title: str
    snippet: str = ""  # what the model reads of the page (the client gets it opaque)
    page_age: str | None = None


class WebSearchResult(msgspec.Struct, frozen=True, tag="web_search_tool_result"):
    """Hits, or `error_code` (Anthropic's: unavailable, max_uses_exceeded, invalid_tool_input,
    too_many_requests, query_too_long)."""

    tool_use_id: str
    hits: tuple[SearchHit, ...] = ()
    error_code: str | None = None

    def model_text(self) -> str:
        if self.error_code is not None:
            return f"Web search failed: {self.error_code}"
        if not self.hits:
            return "No results."
        return "\n\n".join(
            f"[{i}] {h.title}\nURL: {h.url}" + (f"\n{h.snippet}" if h.snippet else "")
            for i, h in enumerate(self.hits, 1)
        )


class WebFetchResult(msgspec.Struct, frozen=True, tag="web_fetch_tool_result"):
    """A fetched document as text (or a PDF as base64 `data`), or `error_code` (Anthropic's:
    invalid_tool_input, url_too_long, url_not_allowed, url_not_accessible, too_many_requests,
    unsupported_content_type, max_uses_exceeded, unavailable)."""

    tool_use_id: str
    url: str = ""
    text: str | None = None
    data: str | None = None
    media_type: str = "text/plain"
    retrieved_at: str = ""
    error_code: str | None = None

    def model_text(self) -> str:
        if self.error_code is not None:
            return f"Fetching {self.url} failed: {self.error_code}"
        if self.text is None:
            return f"Fetched {self.url}: a {self.media_type} document the model cannot read as text"
        return f"Fetched {self.url}:\n{self.text}"


ServerBlock = ServerToolUse | WebSearchResult | WebFetchResult
# What a reply may hold: a server tool loop's calls and results besides the model's blocks.
ResponseBlock = Block | ServerBlock

Role = Literal["user", "assistant", "system"]


class Message(msgspec.Struct, frozen=True):
    """One turn. `system` turns appear where a client put a system message mid-conversation."""

    role: Role
    content: tuple[Block, ...]
