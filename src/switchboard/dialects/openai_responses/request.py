"""A client's Responses body -> IR request. Pure: what cannot be carried is refused with a named
error or listed in the dropped report.

The conversation is a list of input items: a stored response's items (`previous_response_id`)
come first, then the request's `input`. Items are kept as the client wrote them (plain JSON) so
that they can be stored and replayed; `items()` normalises them (a string input is one user
message; a message may leave out its `type`)."""

from __future__ import annotations

from typing import Any, assert_never

import msgspec

from switchboard import ir
from switchboard.dialects.openai_chat.request import (
    DEFAULT_MAX_TOKENS,
    data_url,
    default_tool_choice,
    mode_tool_choice,
    structured_output,
    thinking_of,
    tool_arguments,
)
from switchboard.dialects.openai_responses import wire
from switchboard.dialects.validation import (
    BodyDecoder,
    check_count,
    decode,
    encodable,
    invalid,
)
from switchboard.errors import InvalidRequest

_decode_request = BodyDecoder(wire.ResponsesRequest)
_decode_head = msgspec.json.Decoder(wire.RequestHead).decode

Item = dict[str, Any]


def decode_head(body: bytes) -> wire.RequestHead:
    head = decode(_decode_head, body)
    check_count("max_output_tokens", head.max_output_tokens)
    return head


def parse(body: bytes) -> tuple[wire.ResponsesRequest, list[str]]:
    """The typed body and the fields it had that no translation carries."""
    return _decode_request(body)


def items(w: wire.ResponsesRequest) -> list[Item]:
    """The request's input as a list of items, each with its `type`."""
    if isinstance(w.input, str):
        return [{"type": "message", "role": "user", "content": w.input}]
    out: list[Item] = []
    for i, item in enumerate(w.input):
        if not isinstance(item, dict):
            raise InvalidRequest(f"input.{i}: Input should be an object", param=f"input.{i}")
        out.append(item if "type" in item else {"type": "message", **item})
    return out


def _typed(conversation: list[Item], offset: int) -> list[wire.Item]:
    """Items -> structs. `offset`: how many leading items came from storage (an error in one
    of the request's own names its place in `input`)."""
    typed: list[wire.Item] = []
    for i, item in enumerate(conversation):
        where = f"input.{i - offset}" if i >= offset else "previous_response_id"
        kind = item.get("type")
        if kind not in wire.KNOWN_ITEMS:
            raise InvalidRequest(
                f"{where}.type: input items of type '{kind}' are not supported "
                f"(supported: {', '.join(sorted(wire.KNOWN_ITEMS))})",
                param=f"{where}.type",
            )
        try:
            typed.append(msgspec.convert(item, wire.Item))
        except msgspec.ValidationError as exc:
            # Located within the item: put the item's place in front.
            problem, located, rest = str(exc).partition(" - at `$")
            at = f"$.input[{i - offset}]" if i >= offset else "$.previous_response_id"
            text = f"{problem} - at `{at}{rest if located else '`'}"
            raise invalid(msgspec.ValidationError(text)) from None
    return typed


def decode_request(
    w: wire.ResponsesRequest, conversation: list[Item], stored: int, dropped: list[str]
) -> ir.Request:
    """`conversation`: the stored items (the first `stored`), then the request's own."""
    dropped = list(dropped)  # the caller's list stays as parsed
    system: list[ir.Text] = [ir.Text(w.instructions)] if w.instructions else []
    messages = _messages(_typed(conversation, stored), system, dropped)
    if not messages:
        raise InvalidRequest("input: at least one non-system item is required", param="input")
    thinking = None
    if w.reasoning is not None:
        thinking = thinking_of(w.reasoning.effort, "reasoning.effort")
    limit = w.max_output_tokens
    if limit is None:
        limit = DEFAULT_MAX_TOKENS
        if thinking is not None and thinking.budget_tokens is not None:
            limit += thinking.budget_tokens  # the limit includes reasoning, as OpenAI counts it
    tools = _tools(w.tools or [], dropped)
    response_format = _format(w.text)
    encodable(
        [b.input for m in messages for b in m.content if isinstance(b, ir.ToolUse)]
        + [t.input_schema for t in tools]
        + [response_format.schema if response_format else None],
        msgspec.json.encode(conversation),
    )
    return ir.Request(
        model=w.model,
        messages=messages,
        max_tokens=limit,
        system=tuple(system),
        stream=bool(w.stream),
        temperature=w.temperature,
        top_p=w.top_p,
        user_id=w.user or w.safety_identifier or None,
        tools=tools,
        tool_choice=_tool_choice(w.tool_choice, w.parallel_tool_calls, bool(tools)),
        thinking=thinking,
        response_format=response_format,
        dropped=tuple(dict.fromkeys(dropped)),
    )


def _format(text: wire.TextConfig | None) -> ir.ResponseFormat | None:
    if text is None or text.format is None:
        return None
    f = text.format
    return structured_output(f.type, f.schema, f.name, f.strict, "text.format", "text.format")


def _tools(params: list[wire.Tool], dropped: list[str]) -> tuple[ir.Tool, ...]:
    tools: list[ir.Tool] = []
    flat: list[tuple[str, wire.Tool]] = []
    for i, t in enumerate(params):
        if t.type == "namespace":  # its functions are offered by name, with no prefix
            flat += [(f"tools.{i}.tools.{j}", inner) for j, inner in enumerate(t.tools or ())]
        else:
            flat.append((f"tools.{i}", t))
    for where, t in flat:
        if t.type != "function":
            # Built-in tools (web_search, file_search, code_interpreter, computer_use...) run
            # on OpenAI's side; this gateway has no emulation of them.
            raise InvalidRequest(
                f"{where}.type: the built-in tool '{t.type}' is not supported by this gateway; "
                "only function tools are",
                param=f"{where}.type",
            )
        if not t.name:
            raise InvalidRequest(f"{where}.name: Field required", param=f"{where}.name")
        if t.strict:
            dropped.append("tools.strict")
        schema = t.parameters or {"type": "object", "properties": {}}
        tools.append(ir.Tool(t.name, t.description, schema))
    return tuple(tools)


def _tool_choice(
    choice: str | wire.NamedTool | None, parallel: bool | None, has_tools: bool
) -> ir.ToolChoice | None:
    serial = parallel is False
    if choice is None:
        return default_tool_choice(parallel, has_tools)
    if isinstance(choice, str):
        return mode_tool_choice(choice, serial)
    if choice.type == "function" and choice.name:
        return ir.ToolChoice("tool", choice.name, serial)
    raise InvalidRequest(
        f"tool_choice.type: '{choice.type}' is not supported (only function tools are)",
        param="tool_choice.type",
    )


def _parts(
    content: str | list[wire.ContentPart], where: str, dropped: list[str]
) -> list[ir.Text | ir.Image | ir.Document]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    out: list[ir.Text | ir.Image | ir.Document] = []
    for j, part in enumerate(content):
        at = f"{where}.content.{j}"
        match part:
            case wire.InputText() | wire.OutputText():
                if part.text:
                    out.append(ir.Text(part.text))
            case wire.Refusal():
                out.append(ir.Text(part.refusal))
            case wire.InputImage():
                if part.detail not in (None, "auto"):
                    dropped.append("input_image.detail")
                if part.image_url is None:
                    raise InvalidRequest(
                        f"{at}.image_url: only image URLs and data URLs are supported "
                        "(not file_id)",
                        param=f"{at}.image_url",
                    )
                if part.image_url.startswith("data:"):
                    media_type, data = data_url(part.image_url, f"{at}.image_url")
                    out.append(ir.Image(media_type=media_type, data=data))
                else:
                    out.append(ir.Image(url=part.image_url))
            case wire.InputFile():
                title = part.filename.removesuffix(".pdf") if part.filename else None
                if part.file_data is not None:
                    media_type, data = _file_data(part.file_data, f"{at}.file_data")
                    out.append(ir.Document(media_type=media_type, data=data, title=title))
                elif part.file_url is not None:
                    out.append(ir.Document(url=part.file_url, title=title))
                else:
                    raise InvalidRequest(
                        f"{at}: only inline file_data or a file_url is supported (not file_id)",
                        param=at,
                    )
            case _:
                assert_never(part)
    return out


def _file_data(value: str, where: str) -> tuple[str, str]:
    # The SDK sends a data URL; bare base64 is taken as a PDF, as OpenAI does.
    if value.startswith("data:"):
        return data_url(value, where)
    return "application/pdf", value


def _messages(
    typed: list[wire.Item], system: list[ir.Text], dropped: list[str]
) -> tuple[ir.Message, ...]:
    """Leading system and developer messages join the instructions; later ones stay in place
    as system turns. Function calls and reasoning are assistant blocks, outputs user blocks;
    consecutive turns of one role are merged."""
    merged: list[ir.Message] = []
    for i, item in enumerate(typed):
        where = f"input.{i}"
        role: ir.Role
        blocks: list[ir.Block]
        match item:
            case wire.MessageItem():
                if item.role in ("system", "developer"):
                    texts = _parts(item.content, where, dropped)
                    if not all(isinstance(b, ir.Text) for b in texts):
                        raise InvalidRequest(
                            f"{where}.content: only text parts are allowed here",
                            param=f"{where}.content",
                        )
                    if not merged:
                        system.extend(b for b in texts if isinstance(b, ir.Text))
                        continue
                    role, blocks = "system", list(texts)
                else:
                    role = "user" if item.role == "user" else "assistant"
                    blocks = list(_parts(item.content, where, dropped))
            case wire.FunctionCallItem():
                args = tool_arguments(item.arguments, f"{where}.arguments", dropped)
                role, blocks = "assistant", [ir.ToolUse(item.call_id, item.name, args)]
            case wire.FunctionCallOutputItem():
                parts = _parts(item.output, where, dropped)
                content = tuple(b for b in parts if isinstance(b, ir.Text | ir.Image))
                if len(content) != len(parts):
                    dropped.append("function_call_output: file parts")
                role, blocks = "user", [ir.ToolResult(item.call_id, content)]
            case wire.ReasoningItem():
                text = "\n\n".join(
                    [c.text for c in item.content]
                    if item.content
                    else [s.text for s in item.summary]
                )
                if not text and not item.encrypted_content:
                    continue
                role, blocks = "assistant", [ir.Thinking(text, item.encrypted_content or "")]
            case _:
                assert_never(item)
        if merged and merged[-1].role == role:
            merged[-1] = ir.Message(role, merged[-1].content + tuple(blocks))
        else:
            merged.append(ir.Message(role, tuple(blocks)))
    return tuple(m for m in merged if m.content)
