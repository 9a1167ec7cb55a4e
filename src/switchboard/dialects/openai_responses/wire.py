"""Responses API request bodies as typed structs. Unknown fields are ignored here and reported
by the decoder; `null` is accepted for every optional field, as the SDK sends it for `None`.
Input items are tagged by `type`; a message may leave it out (the SDK's "easy" input message),
so the decoder sets it before converting an item."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from switchboard.dialects.validation import Count


class _Part(msgspec.Struct, tag_field="type"):
    pass


class InputText(_Part, tag="input_text"):
    text: str


class OutputText(_Part, tag="output_text"):
    text: str
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class InputImage(_Part, tag="input_image"):
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class InputFile(_Part, tag="input_file"):
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class Refusal(_Part, tag="refusal"):
    refusal: str


ContentPart = InputText | OutputText | InputImage | InputFile | Refusal


class _Item(msgspec.Struct, tag_field="type"):
    pass


class MessageItem(_Item, tag="message"):
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None
    status: str | None = None
    phase: str | None = None


class FunctionCallItem(_Item, tag="function_call"):
    call_id: str
    name: str
    arguments: str = ""
    id: str | None = None
    status: str | None = None


class FunctionCallOutputItem(_Item, tag="function_call_output"):
    call_id: str
    output: str | list[ContentPart]
    id: str | None = None
    status: str | None = None


class SummaryText(msgspec.Struct):
    text: str
    type: str = "summary_text"


class ReasoningText(msgspec.Struct):
    text: str
    type: str = "reasoning_text"


class ReasoningItem(_Item, tag="reasoning"):
    summary: list[SummaryText] = []
    id: str | None = None
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None
    status: str | None = None


Item = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem
KNOWN_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning"})


class Tool(msgspec.Struct):
    """A function tool, or a `namespace` of them (Codex groups its sub-agent tools so); any
    other `type` is a built-in tool, refused by name."""

    type: str
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    tools: list[Tool] | None = None


def namespaces(tools: list[Tool] | None) -> dict[str, str]:
    """Function name -> the namespace it was declared in (its calls name it again)."""
    return {
        inner.name: t.name
        for t in tools or ()
        if t.type == "namespace" and t.name
        for inner in t.tools or ()
        if inner.name
    }


class NamedTool(msgspec.Struct):
    type: str
    name: str | None = None


class Reasoning(msgspec.Struct):
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


class TextFormat(msgspec.Struct):
    type: str
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class TextConfig(msgspec.Struct):
    format: TextFormat | None = None
    verbosity: str | None = None


class ResponsesRequest(msgspec.Struct):
    model: str
    input: str | list[dict[str, Any]] = []
    instructions: str | None = None
    tools: list[Tool] | None = None
    tool_choice: str | NamedTool | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Reasoning | None = None
    text: TextConfig | None = None
    max_output_tokens: Annotated[int, Count] | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] | None = None
    stream: bool | None = None
    store: bool | None = None
    previous_response_id: str | None = None
    user: str | None = None
    # Read and answered for, not sent upstream: these change nothing a translation can carry.
    include: list[str] | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    truncation: str | None = None
    safety_identifier: str | None = None
    stream_options: dict[str, Any] | None = None
    client_metadata: dict[str, Any] | None = None


class RequestHead(msgspec.Struct):
    """What routing, limits and storage need before the whole body is decoded."""

    model: str
    stream: bool | None = None
    store: bool | None = None
    previous_response_id: str | None = None
    max_output_tokens: Annotated[int, Count] | None = None
    prompt_cache_key: str | None = None
    user: str | None = None
    input: msgspec.Raw = msgspec.Raw()
    tools: msgspec.Raw = msgspec.Raw()
