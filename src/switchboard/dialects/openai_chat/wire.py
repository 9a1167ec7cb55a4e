"""OpenAI chat-completions replies as typed structs, tolerant of vendor variants: reasoning as
`reasoning_content` or `reasoning`, usage in the chunk or inside the choice (Moonshot), vLLM's
`stop_reason` and SGLang's `matched_stop`, arguments as a string or an object."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from switchboard.dialects.validation import Count


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


# Client requests (the surface we serve). Unknown fields are ignored here and reported by the
# decoder; `null` is accepted for every optional field, as the SDK sends it for `None`.


class _Part(msgspec.Struct, tag_field="type"):
    pass


class TextPart(_Part, tag="text"):
    text: str


class ImageURL(msgspec.Struct):
    url: str
    detail: str | None = None


class ImagePart(_Part, tag="image_url"):
    image_url: ImageURL


class AudioPart(_Part, tag="input_audio"):
    input_audio: dict[str, Any]


class FileRef(msgspec.Struct):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(_Part, tag="file"):
    file: FileRef


class RefusalPart(_Part, tag="refusal"):
    refusal: str


ContentPart = TextPart | ImagePart | AudioPart | FilePart | RefusalPart


class FunctionCallParam(msgspec.Struct):
    name: str
    arguments: str | dict[str, Any] = ""


class ToolCallParam(msgspec.Struct):
    id: str
    function: FunctionCallParam
    type: str = "function"


class _Message(msgspec.Struct, tag_field="role"):
    pass


class SystemMessage(_Message, tag="system"):
    content: str | list[ContentPart]
    name: str | None = None


class DeveloperMessage(_Message, tag="developer"):
    content: str | list[ContentPart]
    name: str | None = None


class UserMessage(_Message, tag="user"):
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Message, tag="assistant"):
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCallParam] | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    name: str | None = None
    function_call: dict[str, Any] | None = None


class ToolMessage(_Message, tag="tool"):
    tool_call_id: str
    content: str | list[ContentPart]


class FunctionMessage(_Message, tag="function"):
    name: str
    content: str | None = None


MessageParam = (
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage
)


class FunctionDef(msgspec.Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolParam(msgspec.Struct):
    type: str
    function: FunctionDef | None = None


class NamedFunction(msgspec.Struct):
    name: str


class ToolChoiceParam(msgspec.Struct):
    type: str
    function: NamedFunction | None = None
    allowed_tools: dict[str, Any] | None = None


class JsonSchemaFormat(msgspec.Struct):
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class ResponseFormatParam(msgspec.Struct):
    type: str
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ChatRequest(msgspec.Struct):
    model: str
    messages: list[MessageParam]
    max_tokens: Annotated[int, Count] | None = None
    max_completion_tokens: Annotated[int, Count] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    n: Annotated[int, Count] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: str | ToolChoiceParam | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    response_format: ResponseFormatParam | None = None
    user: str | None = None


class RequestHead(msgspec.Struct):
    """Just what routing and the pass-through need, decoded before the whole body."""

    @property
    def output_limit(self) -> int | None:
        """The output limit the client set; 0 counts as unset (servers differ on what it
        means, and some read it as no limit)."""
        limit = self.max_completion_tokens
        return (limit if limit is not None else self.max_tokens) or None

    model: str
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    # What limits and budgets reserve before the call, so strict here for every route (a
    # pass-through body is never decoded further): a value the gateway could not reserve for
    # (`1000.0`, `"1000"`, 2**40) is refused, not relayed to an upstream that may read it.
    max_tokens: Annotated[int, Count] | None = None
    max_completion_tokens: Annotated[int, Count] | None = None
    prompt_cache_key: str | None = None
    user: str | None = None
    messages: msgspec.Raw = msgspec.Raw()  # counted by the bounds, judged by the full decode
    tools: msgspec.Raw = msgspec.Raw()
    # Routing by scenario tests it; the full decode judges it (loose here: no 400 from the head).
    reasoning_effort: str | None = None


class ToolHeadFunction(msgspec.Struct):
    name: str | None = None


class ToolHead(msgspec.Struct):
    """A tool as routing sees it: its type and its function's name."""

    type: str | None = None
    function: ToolHeadFunction | None = None
