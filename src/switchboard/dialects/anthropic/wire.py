"""Anthropic Messages request bodies as typed structs. Unknown fields are ignored (Claude Code and
new SDKs keep adding optional ones); unknown block types are refused, as the real API does. Also
the replies and stream events of Anthropic-dialect upstreams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from switchboard.dialects.validation import MAX_COUNT, Count


class _Block(msgspec.Struct, tag_field="type"):
    pass


class TextBlock(_Block, tag="text"):
    text: str
    cache_control: dict[str, Any] | None = None
    citations: list[Any] | None = None


class Source(msgspec.Struct):
    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    content: str | list[TextBlock | ImageBlock] | None = None


class ImageBlock(_Block, tag="image"):
    source: Source
    cache_control: dict[str, Any] | None = None


class DocumentBlock(_Block, tag="document"):
    source: Source
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None


class SearchResultBlock(_Block, tag="search_result"):
    source: str
    title: str
    content: list[TextBlock]
    cache_control: dict[str, Any] | None = None


class ToolReferenceBlock(_Block, tag="tool_reference"):
    tool_name: str = ""


class ToolUseBlock(_Block, tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None


ToolResultContent = TextBlock | ImageBlock | DocumentBlock | SearchResultBlock | ToolReferenceBlock


class ToolResultBlock(_Block, tag="tool_result"):
    tool_use_id: str
    content: str | list[ToolResultContent] | None = None
    is_error: bool | None = None
    cache_control: dict[str, Any] | None = None


class ThinkingBlock(_Block, tag="thinking"):
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(_Block, tag="redacted_thinking"):
    data: str


# Server-side tool traffic (web search, code execution, MCP...) only an Anthropic upstream can
# replay; other upstreams get it dropped and reported.


class ServerToolUseBlock(_Block, tag="server_tool_use"):
    id: str = ""
    name: str = ""
    input: dict[str, Any] = {}


# Results stay loose: an earlier turn's, from Anthropic or from the gateway's own loop, are
# read for what the model needs (request.py), and new shapes are not a decode failure.


class WebSearchToolResultBlock(_Block, tag="web_search_tool_result"):
    tool_use_id: str = ""
    content: Any = None


class WebFetchToolResultBlock(_Block, tag="web_fetch_tool_result"):
    tool_use_id: str = ""
    content: Any = None


class CodeExecutionToolResultBlock(_Block, tag="code_execution_tool_result"):
    pass


class BashCodeExecutionToolResultBlock(_Block, tag="bash_code_execution_tool_result"):
    pass


class TextEditorCodeExecutionToolResultBlock(_Block, tag="text_editor_code_execution_tool_result"):
    pass


class ToolSearchToolResultBlock(_Block, tag="tool_search_tool_result"):
    pass


class ContainerUploadBlock(_Block, tag="container_upload"):
    pass


class McpToolUseBlock(_Block, tag="mcp_tool_use"):
    pass


class McpToolResultBlock(_Block, tag="mcp_tool_result"):
    pass


class CompactionBlock(_Block, tag="compaction"):
    pass


ServerBlock = (
    ServerToolUseBlock
    | WebSearchToolResultBlock
    | WebFetchToolResultBlock
    | CodeExecutionToolResultBlock
    | BashCodeExecutionToolResultBlock
    | TextEditorCodeExecutionToolResultBlock
    | ToolSearchToolResultBlock
    | ContainerUploadBlock
    | McpToolUseBlock
    | McpToolResultBlock
    | CompactionBlock
)

ContentBlock = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | SearchResultBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ServerBlock
)


class MessageParam(msgspec.Struct):
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]


class ToolParam(msgspec.Struct):
    name: str
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None
    # Tool search: a deferred tool is offered once a `tool_reference` has named it.
    defer_loading: bool | None = None
    # Server tools (web_search_*, web_fetch_*).
    max_uses: Annotated[int, msgspec.Meta(ge=1)] | None = None
    allowed_domains: list[str] | None = None
    blocked_domains: list[str] | None = None
    max_content_tokens: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)] | None = None  # web_fetch


class ToolChoiceParam(msgspec.Struct):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class ThinkingParam(msgspec.Struct):
    type: Literal["enabled", "disabled", "adaptive", "between_tools"]
    budget_tokens: Annotated[int, Count] | None = None


class MetadataParam(msgspec.Struct):
    user_id: str | None = None


class MessagesRequest(msgspec.Struct):
    model: str
    max_tokens: Annotated[int, Count]
    messages: list[MessageParam]
    system: str | list[TextBlock] | None = None
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: Annotated[int, Count] | None = None
    metadata: MetadataParam | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingParam | None = None
    cache_control: dict[str, Any] | None = None


class CountTokensRequest(msgspec.Struct):
    """`POST /v1/messages/count_tokens`: a Messages request without the generation fields."""

    model: str
    messages: list[MessageParam]
    system: str | list[TextBlock] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingParam | None = None
    cache_control: dict[str, Any] | None = None
    max_tokens: Annotated[int, Count] = 0
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: Annotated[int, Count] | None = None
    metadata: MetadataParam | None = None


class RequestHead(msgspec.Struct):
    """Just what routing and the request bounds need, decoded before the whole body (messages
    and tools stay raw: the bounds count them, the full decode judges them)."""

    @property
    def output_limit(self) -> int | None:
        """The output limit the client set, if it set one."""
        return self.max_tokens if isinstance(self.max_tokens, int) else None

    model: str
    stream: bool | None = None
    # What limits and budgets reserve before the call, so strict here for every route (a
    # pass-through body is never decoded further): a value the gateway could not reserve for
    # (`1000.0`, `"1000"`, 2**40) is refused, not relayed to an upstream that may read it.
    max_tokens: Annotated[int, Count] | msgspec.UnsetType = msgspec.UNSET
    metadata: MetadataParam | None = None
    messages: msgspec.Raw = msgspec.Raw()
    tools: msgspec.Raw = msgspec.Raw()
    # Routing by scenario tests it; the full decode judges it (loose here: no 400 from the head).
    thinking: ThinkingHead | None = None


class ThinkingHead(msgspec.Struct):
    type: str | None = None


class ToolHead(msgspec.Struct):
    """A tool as routing sees it: its type (server tools) and its name."""

    name: str | None = None
    type: str | None = None


# Upstream replies (an Anthropic-dialect upstream answering a translated request). Blocks stay
# loose dicts until their type is known, so a new block type is reported, not a decode failure.


class ResponseUsage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class ResponseText(msgspec.Struct):
    text: str
    citations: list[Any] | None = None


class ResponseThinking(msgspec.Struct):
    thinking: str
    signature: str = ""


class ResponseRedactedThinking(msgspec.Struct):
    data: str


class ResponseToolUse(msgspec.Struct):
    id: str
    name: str
    input: dict[str, Any] = {}


class MessageResponse(msgspec.Struct):
    content: list[dict[str, Any]] = []
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: ResponseUsage | None = None


class EventDelta(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None


class ErrorDetail(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class StreamEvent(msgspec.Struct):
    """Every event of a Messages stream, as one loose shape keyed by `type`."""

    type: str
    index: int | None = None
    message: MessageResponse | None = None
    content_block: dict[str, Any] | None = None
    delta: EventDelta | None = None
    usage: ResponseUsage | None = None
    error: ErrorDetail | None = None
