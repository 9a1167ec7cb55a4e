"""A client's chat-completions body -> IR request (the OpenAI surface we serve). Pure: what
cannot be carried is refused with a named error or listed in the dropped report."""

from __future__ import annotations

from typing import Any, Literal, assert_never

import msgspec

from switchboard import ir
from switchboard.dialects.openai_chat import wire
from switchboard.dialects.validation import (
    BodyDecoder,
    check_count,
    decode,
    encodable,
    loose_items,
    parse_json,
)
from switchboard.errors import InvalidRequest

_decode_chat = BodyDecoder(wire.ChatRequest)
_decode_head = msgspec.json.Decoder(wire.RequestHead).decode
_decode_tool_heads = msgspec.json.Decoder(list[wire.ToolHead]).decode

# OpenAI needs no limit; Anthropic does. This is what a request without one gets.
DEFAULT_MAX_TOKENS = 4096

# reasoning_effort -> a thinking budget in tokens; `none` turns thinking off.
EFFORT_BUDGET = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 65536,
}


def decode_head(body: bytes) -> wire.RequestHead:
    head = decode(_decode_head, body)
    # Loose in the head, but what limits reserve (and a pass-through forwards) is bounded.
    check_count("max_tokens", head.max_tokens)
    check_count("max_completion_tokens", head.max_completion_tokens)
    return head


def wants_usage(head: wire.RequestHead) -> bool:
    """Whether the client asked for the final usage chunk (`stream_options.include_usage`)."""
    return bool(head.stream and head.stream_options and head.stream_options.include_usage)


def head_thinking(head: wire.RequestHead) -> bool:
    """Whether the request asks for reasoning (an effort other than `none`)."""
    return head.reasoning_effort not in (None, "none")


def tool_keys(raw: msgspec.Raw) -> frozenset[str]:
    """Each tool's type and function name, for routing."""
    tools = loose_items(_decode_tool_heads, raw)
    keys = (k for t in tools for k in (t.type, t.function.name if t.function else None) if k)
    return frozenset(keys)


def decode_request(body: bytes) -> ir.Request:
    w, dropped = _decode_chat(body)
    if w.n is not None and w.n != 1:
        raise InvalidRequest("n: only n=1 is supported", param="n")
    system, messages = _decode_messages(w.messages, dropped)
    if not messages:
        raise InvalidRequest(
            "messages: at least one non-system message is required", param="messages"
        )
    thinking = thinking_of(w.reasoning_effort)
    limit = w.max_completion_tokens if w.max_completion_tokens is not None else w.max_tokens
    if limit is None:
        limit = DEFAULT_MAX_TOKENS
        if thinking is not None and thinking.budget_tokens is not None:
            limit += thinking.budget_tokens  # the limit includes reasoning, as OpenAI counts it
    stop = [w.stop] if isinstance(w.stop, str) else list(w.stop or ())
    tools = _decode_tools(w.tools or [], dropped)
    response_format = _response_format(w.response_format)
    # What an encoder will write again for the upstream, free-form: checked once.
    encodable(
        [b.input for m in messages for b in m.content if isinstance(b, ir.ToolUse)]
        + [t.input_schema for t in tools]
        + [response_format.schema if response_format else None],
        body,
    )
    return ir.Request(
        model=w.model,
        messages=messages,
        max_tokens=limit,
        system=system,
        stream=bool(w.stream),
        stop_sequences=tuple(stop),
        temperature=w.temperature,
        top_p=w.top_p,
        user_id=w.user or None,
        tools=tools,
        tool_choice=_decode_tool_choice(w.tool_choice, w.parallel_tool_calls, bool(tools)),
        thinking=thinking,
        response_format=response_format,
        dropped=tuple(dict.fromkeys(dropped)),
    )


def thinking_of(effort: str | None, param: str = "reasoning_effort") -> ir.ThinkingConfig | None:
    if effort is None:
        return None
    if effort == "none":
        return ir.ThinkingConfig("disabled")
    if effort not in EFFORT_BUDGET:
        known = ", ".join(["none", *EFFORT_BUDGET])
        raise InvalidRequest(f"{param}: '{effort}' is not one of {known}", param=param)
    return ir.ThinkingConfig("enabled", EFFORT_BUDGET[effort])


def _response_format(rf: wire.ResponseFormatParam | None) -> ir.ResponseFormat | None:
    if rf is None:
        return None
    js = rf.json_schema
    return structured_output(
        rf.type,
        js.schema if js is not None else None,
        js.name if js is not None else None,
        js.strict if js is not None else None,
        "response_format",
        "response_format.json_schema",
    )


def structured_output(
    kind: str,
    schema: dict[str, Any] | None,
    name: str | None,
    strict: bool | None,
    at: str,
    schema_at: str,
) -> ir.ResponseFormat | None:
    """A requested output format (`at`: where its type is, `schema_at`: its schema's parent)."""
    if kind == "text":
        return None
    if kind == "json_object":
        return ir.ResponseFormat("json_object")
    if kind == "json_schema":
        if schema is None:
            raise InvalidRequest(f"{schema_at}.schema: Field required", param=f"{schema_at}.schema")
        return ir.ResponseFormat("json_schema", schema, name, strict)
    raise InvalidRequest(
        f"{at}.type: '{kind}' is not one of text, json_object, json_schema", param=f"{at}.type"
    )


def _decode_tools(params: list[wire.ToolParam], dropped: list[str]) -> tuple[ir.Tool, ...]:
    tools: list[ir.Tool] = []
    for i, t in enumerate(params):
        if t.type != "function" or t.function is None:
            raise InvalidRequest(
                f"tools.{i}.type: only function tools are supported", param=f"tools.{i}.type"
            )
        fn = t.function
        if fn.strict:
            dropped.append("tools.function.strict")
        schema = fn.parameters or {"type": "object", "properties": {}}
        tools.append(ir.Tool(fn.name, fn.description, schema))
    return tuple(tools)


def default_tool_choice(parallel: bool | None, has_tools: bool) -> ir.ToolChoice | None:
    """No tool_choice: the upstream's default, unless parallel calls were turned off."""
    return (
        ir.ToolChoice("auto", disable_parallel_tool_use=True)
        if parallel is False and has_tools
        else None
    )


def mode_tool_choice(choice: str, serial: bool) -> ir.ToolChoice:
    """`auto`, `required` or `none` (the same in chat completions and the Responses API)."""
    kinds: dict[str, Literal["auto", "any", "none"]] = {
        "auto": "auto",
        "required": "any",
        "none": "none",
    }
    if choice not in kinds:
        raise InvalidRequest(
            f"tool_choice: '{choice}' is not one of none, auto, required", param="tool_choice"
        )
    return ir.ToolChoice(kinds[choice], disable_parallel_tool_use=serial)


def _decode_tool_choice(
    choice: str | wire.ToolChoiceParam | None, parallel: bool | None, has_tools: bool
) -> ir.ToolChoice | None:
    serial = parallel is False
    if choice is None:
        return default_tool_choice(parallel, has_tools)
    if isinstance(choice, str):
        return mode_tool_choice(choice, serial)
    if choice.type == "function" and choice.function is not None:
        return ir.ToolChoice("tool", choice.function.name, serial)
    if choice.type == "allowed_tools" and choice.allowed_tools is not None:
        mode = choice.allowed_tools.get("mode")
        raise InvalidRequest(
            f"tool_choice: allowed_tools (mode {mode}) is not supported; "
            "send only the allowed tools instead",
            param="tool_choice",
        )
    raise InvalidRequest(
        f"tool_choice.type: '{choice.type}' is not supported", param="tool_choice.type"
    )


def data_url(url: str, where: str) -> tuple[str, str]:
    """`data:<media type>;base64,<data>` -> (media type, data)."""
    head, sep, data = url.partition(",")
    if not sep or not head.endswith(";base64"):
        raise InvalidRequest(f"{where}: a data URL must be base64-encoded", param=where)
    return head.removeprefix("data:").removesuffix(";base64") or "application/octet-stream", data


def _parts(
    content: str | list[wire.ContentPart] | None, where: str, dropped: list[str]
) -> list[ir.Block]:
    if content is None:
        return []
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    out: list[ir.Block] = []
    for j, part in enumerate(content):
        at = f"{where}.content.{j}"
        match part:
            case wire.TextPart():
                if part.text:
                    out.append(ir.Text(part.text))
            case wire.RefusalPart():
                out.append(ir.Text(part.refusal))
            case wire.ImagePart():
                url = part.image_url.url
                if part.image_url.detail not in (None, "auto"):
                    dropped.append("image_url.detail")
                if url.startswith("data:"):
                    media_type, data = data_url(url, f"{at}.image_url.url")
                    out.append(ir.Image(media_type=media_type, data=data))
                else:
                    out.append(ir.Image(url=url))
            case wire.FilePart():
                f = part.file
                if f.file_data is None:
                    raise InvalidRequest(
                        f"{at}.file: only inline file_data is supported (not file_id)",
                        param=f"{at}.file",
                    )
                media_type, data = data_url(f.file_data, f"{at}.file.file_data")
                title = f.filename.removesuffix(".pdf") if f.filename else None
                out.append(ir.Document(media_type=media_type, data=data, title=title))
            case wire.AudioPart():
                raise InvalidRequest(f"{at}: audio input is not supported", param=at)
            case _:
                assert_never(part)
    return out


def _texts(content: str | list[wire.ContentPart], where: str) -> tuple[ir.Text, ...]:
    blocks = _parts(content, where, [])
    if not all(isinstance(b, ir.Text) for b in blocks):
        raise InvalidRequest(
            f"{where}.content: only text parts are allowed here", param=f"{where}.content"
        )
    return tuple(b for b in blocks if isinstance(b, ir.Text))


def tool_arguments(raw: str | dict[str, Any], where: str, dropped: list[str]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw.strip():
        return {}
    value = parse_json(raw)
    if isinstance(value, dict):
        return value
    # A model may have produced broken arguments; the history must still be replayable.
    dropped.append(f"{where}: arguments are not a JSON object, sent as a string")
    return {"_unparsed_arguments": raw}


def _decode_messages(
    params: list[wire.MessageParam], dropped: list[str]
) -> tuple[tuple[ir.Text, ...], tuple[ir.Message, ...]]:
    """Leading system and developer messages become the system prompt; later ones stay in place
    as system turns. Tool messages become user turns of tool results, and consecutive turns of
    one role are merged, so results land in the turn after the calls, before any user text."""
    system: list[ir.Text] = []
    merged: list[ir.Message] = []
    for i, m in enumerate(params):
        where = f"messages.{i}"
        role: ir.Role
        blocks: list[ir.Block]
        match m:
            case wire.SystemMessage() | wire.DeveloperMessage():
                texts = _texts(m.content, where)
                if m.name:
                    dropped.append("messages.name")
                if not merged:
                    system.extend(texts)
                    continue
                role, blocks = "system", list(texts)
            case wire.UserMessage():
                if m.name:
                    dropped.append("messages.name")
                role, blocks = "user", _parts(m.content, where, dropped)
            case wire.AssistantMessage():
                role, blocks = "assistant", _assistant_blocks(m, where, dropped)
            case wire.ToolMessage():
                texts = _texts(m.content, where)
                role, blocks = "user", [ir.ToolResult(m.tool_call_id, texts)]
            case wire.FunctionMessage():
                raise InvalidRequest(
                    f"{where}.role: 'function' messages are not supported; use 'tool'",
                    param=f"{where}.role",
                )
            case _:
                assert_never(m)
        if merged and merged[-1].role == role:
            merged[-1] = ir.Message(role, merged[-1].content + tuple(blocks))
        else:
            merged.append(ir.Message(role, tuple(blocks)))
    return tuple(system), tuple(m for m in merged if m.content)


def _assistant_blocks(m: wire.AssistantMessage, where: str, dropped: list[str]) -> list[ir.Block]:
    if m.name:
        dropped.append("messages.name")
    if m.function_call is not None:
        raise InvalidRequest(
            f"{where}.function_call: legacy function calls are not supported; use tool_calls",
            param=f"{where}.function_call",
        )
    blocks: list[ir.Block] = []
    if m.reasoning_content:
        # Unsigned: only upstreams that take reasoning back without a signature can use it.
        blocks.append(ir.Thinking(m.reasoning_content))
    blocks.extend(_parts(m.content, where, dropped))
    if m.refusal:
        blocks.append(ir.Text(m.refusal))
    for j, call in enumerate(m.tool_calls or []):
        at = f"{where}.tool_calls.{j}.function.arguments"
        args = tool_arguments(call.function.arguments, at, dropped)
        blocks.append(ir.ToolUse(call.id, call.function.name, args))
    return blocks
