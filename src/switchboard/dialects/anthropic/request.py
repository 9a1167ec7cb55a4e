"""Anthropic request bytes -> IR request (for Anthropic clients); IR request -> an Anthropic body
(for translated requests to Anthropic-dialect upstreams). Validation errors name the field the
way the real API does (`max_tokens: Field required`, `messages.0.content.1.type: ...`)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, assert_never

import msgspec

from switchboard import ir
from switchboard.dialects.anthropic import wire
from switchboard.errors import InvalidRequest

_decode_request = msgspec.json.Decoder(wire.MessagesRequest).decode
_decode_count = msgspec.json.Decoder(wire.CountTokensRequest).decode
_decode_head = msgspec.json.Decoder(wire.RequestHead).decode
_INDEX = re.compile(r"\[(\d+)\]")


def decode_head(body: bytes) -> wire.RequestHead:
    try:
        return _decode_head(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _invalid(exc) from None


def decode_request(body: bytes) -> ir.Request:
    try:
        w = _decode_request(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _invalid(exc) from None
    return _to_ir(w)


def decode_count_tokens(body: bytes) -> ir.Request:
    try:
        w = _decode_count(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _invalid(exc) from None
    return _to_ir(w)


def _to_ir(w: wire.MessagesRequest | wire.CountTokensRequest) -> ir.Request:
    dropped: set[str] = set()
    if w.cache_control is not None:
        dropped.add("cache_control")
    system: tuple[ir.Text, ...] = ()
    if isinstance(w.system, str):
        system = (ir.Text(w.system),) if w.system else ()
    elif w.system:
        system = tuple(_text(b, dropped) for b in w.system if b.text)
    messages = _messages(w.messages, dropped)
    if not messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    tools = _tools(w.tools or [], dropped)
    choice = None
    if w.tool_choice is not None:
        if w.tool_choice.type == "tool" and not w.tool_choice.name:
            raise InvalidRequest("tool_choice.name: Field required", param="tool_choice.name")
        choice = ir.ToolChoice(
            w.tool_choice.type, w.tool_choice.name, bool(w.tool_choice.disable_parallel_tool_use)
        )
    thinking = None
    if w.thinking is not None:
        kind = "adaptive" if w.thinking.type == "between_tools" else w.thinking.type
        thinking = ir.ThinkingConfig(kind, w.thinking.budget_tokens)
    for i, seq in enumerate(w.stop_sequences or []):
        if not seq.strip():
            raise InvalidRequest(
                f"stop_sequences.{i}: each stop sequence must contain non-whitespace",
                param="stop_sequences",
            )
    return ir.Request(
        model=w.model,
        messages=messages,
        max_tokens=w.max_tokens,
        system=system,
        stream=bool(w.stream),
        stop_sequences=tuple(w.stop_sequences or ()),
        temperature=w.temperature,
        top_p=w.top_p,
        top_k=w.top_k,
        user_id=w.metadata.user_id if w.metadata else None,
        tools=tools,
        tool_choice=choice,
        thinking=thinking,
        dropped=tuple(sorted(dropped)),
    )


def _invalid(exc: Exception) -> InvalidRequest:
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):  # (ValidationError is a DecodeError)
        return InvalidRequest(f"The request body is not valid JSON: {text}")
    problem, _, loc = text.partition(" - at `")
    path = _INDEX.sub(r".\1", loc.rstrip("`").removeprefix("$").removeprefix("."))
    missing = re.match(r"Object missing required field `(.+)`", problem)
    if missing:
        field = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return InvalidRequest(f"{field}: Field required", param=field)
    if problem.startswith("Invalid value") and path.endswith("type"):
        problem = f"{problem.removeprefix('Invalid value ')} is not a known block type"
    elif problem.startswith("Expected `object`, got"):
        problem = "Input should be an object" + problem.removeprefix("Expected `object`")
    if not path:
        return InvalidRequest(problem)
    return InvalidRequest(f"{path}: {problem}", param=path)


def _text(block: wire.TextBlock, dropped: set[str]) -> ir.Text:
    if block.cache_control is not None:
        dropped.add("cache_control")
    if block.citations:
        dropped.add("citations")
    return ir.Text(block.text)


def _image(block: wire.ImageBlock, where: str) -> ir.Image:
    src = block.source
    if src.type == "base64" and src.data is not None:
        return ir.Image(media_type=src.media_type, data=src.data)
    if src.type == "url" and src.url:
        return ir.Image(url=src.url)
    raise InvalidRequest(
        f"{where}.source: image source type '{src.type}' is not supported by Switchboard "
        "(use base64 or url)",
        param=f"{where}.source",
    )


def _document(block: wire.DocumentBlock, where: str, dropped: set[str]) -> ir.Document:
    src = block.source
    if block.citations:
        dropped.add("citations")
    if block.cache_control is not None:
        dropped.add("cache_control")
    common = {"title": block.title, "context": block.context}
    if src.type == "text" and isinstance(src.data, str):
        return ir.Document(text=src.data, media_type=src.media_type or "text/plain", **common)
    if src.type == "content" and src.content is not None:
        if isinstance(src.content, str):
            return ir.Document(text=src.content, **common)
        texts = [b.text for b in src.content if isinstance(b, wire.TextBlock)]
        if len(texts) != len(src.content):
            dropped.add("document.content.image")
        return ir.Document(text="\n".join(texts), **common)
    if src.type == "base64" and src.data is not None:
        return ir.Document(media_type=src.media_type, data=src.data, **common)
    if src.type == "url" and src.url:
        return ir.Document(url=src.url, media_type="application/pdf", **common)
    raise InvalidRequest(
        f"{where}.source: document source type '{src.type}' is not supported by Switchboard",
        param=f"{where}.source",
    )


def _tool_result(block: wire.ToolResultBlock, where: str, dropped: set[str]) -> ir.ToolResult:
    if block.cache_control is not None:
        dropped.add("cache_control")
    parts: list[ir.Text | ir.Image] = []
    if isinstance(block.content, str):
        if block.content:
            parts.append(ir.Text(block.content))
    elif block.content:
        for j, item in enumerate(block.content):
            match item:
                case wire.TextBlock():
                    parts.append(_text(item, dropped))
                case wire.ImageBlock():
                    parts.append(_image(item, f"{where}.content.{j}"))
                case wire.DocumentBlock():
                    doc = _document(item, f"{where}.content.{j}", dropped)
                    if doc.text is None:
                        raise InvalidRequest(
                            f"{where}.content.{j}: only text documents can be tool results",
                            param=f"{where}.content.{j}",
                        )
                    parts.append(ir.Text(doc.text))
                case wire.SearchResultBlock():
                    parts.append(ir.Text(_search_result_text(item)))
                case wire.ToolReferenceBlock():
                    dropped.add("tool_reference")
    return ir.ToolResult(block.tool_use_id, tuple(parts), bool(block.is_error))


def _search_result_text(block: wire.SearchResultBlock) -> str:
    body = "\n".join(t.text for t in block.content)
    return f"{block.title} ({block.source})\n{body}"


def _blocks(
    content: str | list[wire.ContentBlock], where: str, dropped: set[str]
) -> list[ir.Block]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    out: list[ir.Block] = []
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        match block:
            case wire.TextBlock():
                if block.text:
                    out.append(_text(block, dropped))
            case wire.ImageBlock():
                if block.cache_control is not None:
                    dropped.add("cache_control")
                out.append(_image(block, at))
            case wire.DocumentBlock():
                out.append(_document(block, at, dropped))
            case wire.SearchResultBlock():
                dropped.add("search_result (sent as text)")
                out.append(ir.Text(_search_result_text(block)))
            case wire.ToolUseBlock():
                if block.cache_control is not None:
                    dropped.add("cache_control")
                out.append(ir.ToolUse(block.id, block.name, block.input))
            case wire.ToolResultBlock():
                out.append(_tool_result(block, at, dropped))
            case wire.ThinkingBlock():
                out.append(ir.Thinking(block.thinking, block.signature))
            case wire.RedactedThinkingBlock():
                out.append(ir.RedactedThinking(block.data))
            case _:
                dropped.add(str(type(block).__struct_config__.tag))
    return out


def _messages(params: list[wire.MessageParam], dropped: set[str]) -> tuple[ir.Message, ...]:
    """Consecutive turns of the same role are merged, as the real API does."""
    merged: list[ir.Message] = []
    for i, m in enumerate(params):
        blocks = _blocks(m.content, f"messages.{i}", dropped)
        if m.role == "system":
            blocks = [b for b in blocks if isinstance(b, ir.Text)]
        if merged and merged[-1].role == m.role:
            merged[-1] = ir.Message(m.role, merged[-1].content + tuple(blocks))
        else:
            merged.append(ir.Message(m.role, tuple(blocks)))
    return tuple(m for m in merged if m.content or m.role == "assistant")


def _tools(params: list[wire.ToolParam], dropped: set[str]) -> tuple[ir.Tool, ...]:
    tools: list[ir.Tool] = []
    for i, t in enumerate(params):
        if t.cache_control is not None:
            dropped.add("cache_control")
        if t.type not in (None, "custom"):
            # Anthropic-defined tools (bash_20250124, web_search_...) have no schema we can send.
            dropped.add(f"tool {t.name} ({t.type})")
            continue
        if t.input_schema is None:
            raise InvalidRequest(
                f"tools.{i}.input_schema: Field required", param=f"tools.{i}.input_schema"
            )
        tools.append(ir.Tool(t.name, t.description, t.input_schema))
    return tuple(tools)


# IR request -> an Anthropic Messages body for one upstream model (a translated request).

_SAFE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
MIN_THINKING_BUDGET = 1024


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    """What the encoder must know of the model and of who serves it."""

    model_id: str  # the catalogue id, for error messages
    upstream_model: str
    max_output_tokens: int | None = None
    vision: bool = True
    pdf: bool = False


@dataclass(slots=True)
class Encoded:
    body: dict[str, Any]
    dropped: list[str] = field(default_factory=list)


def tool_id(client_id: str) -> str:
    """Anthropic takes only `^[a-zA-Z0-9_-]+$`; other ids (from other servers' histories) get a
    stable stand-in, the same for the call and its result."""
    if _SAFE_ID.match(client_id):
        return client_id
    return "toolu_sb_" + base64.urlsafe_b64encode(client_id.encode()).decode().rstrip("=")


def encode_request(req: ir.Request, profile: UpstreamProfile) -> Encoded:
    out = Encoded(body={}, dropped=list(req.dropped))
    body = out.body
    body["model"] = profile.upstream_model
    max_tokens = req.max_tokens
    if profile.max_output_tokens is not None and max_tokens > profile.max_output_tokens:
        out.dropped.append(f"max_tokens clamped from {max_tokens} to {profile.max_output_tokens}")
        max_tokens = profile.max_output_tokens
    body["max_tokens"] = max_tokens
    if req.system:
        texts = [t.text for t in req.system]
        body["system"] = (
            texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]
        )
    body["messages"] = [_message(m, i, profile, out.dropped) for i, m in enumerate(req.messages)]
    stops = [s for s in req.stop_sequences if s.strip()]
    if len(stops) < len(req.stop_sequences):
        out.dropped.append("whitespace-only stop sequences")
    if stops:
        body["stop_sequences"] = stops
    thinking = _thinking(req.thinking, max_tokens, out.dropped)
    if thinking is not None and thinking["type"] != "disabled" and not _thinking_replayable(req):
        out.dropped.append("thinking (the tool-use turn it continues has no signed thinking)")
        thinking = None
    if thinking is not None:
        body["thinking"] = thinking
    _sampling(req, body, thinking is not None and thinking["type"] != "disabled", out.dropped)
    if req.user_id:
        body["metadata"] = {"user_id": req.user_id}
    if req.tools:
        body["tools"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": t.input_schema,
            }
            for t in req.tools
        ]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice(req.tool_choice)
    if req.response_format is not None:
        if req.response_format.type == "json_schema":
            schema = req.response_format.schema
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        else:
            out.dropped.append("response_format json_object")
    if req.stream:
        body["stream"] = True
    return out


def _thinking(
    config: ir.ThinkingConfig | None, max_tokens: int, dropped: list[str]
) -> dict[str, Any] | None:
    if config is None:
        return None
    match config.type:
        case "disabled":
            return {"type": "disabled"}
        case "adaptive":
            return {"type": "adaptive"}
        case "enabled":
            # Anthropic wants budget < max_tokens (the limit includes thinking) and >= 1024.
            budget = min(config.budget_tokens or MIN_THINKING_BUDGET, max_tokens - 1)
            if budget < MIN_THINKING_BUDGET:
                dropped.append(f"thinking (max_tokens {max_tokens} leaves no room for it)")
                return None
            return {"type": "enabled", "budget_tokens": budget}
        case _:
            assert_never(config.type)


def _thinking_replayable(req: ir.Request) -> bool:
    """With thinking on, Anthropic wants the assistant turn being continued after tool use to
    start with its signed thinking; clients of other dialects cannot send that back."""
    last = next((m for m in reversed(req.messages) if m.role == "assistant"), None)
    if last is None or not any(isinstance(b, ir.ToolUse) for b in last.content):
        return True
    first = last.content[0]
    return isinstance(first, ir.RedactedThinking) or (
        isinstance(first, ir.Thinking) and bool(first.signature)
    )


def _sampling(req: ir.Request, body: dict[str, Any], thinking: bool, dropped: list[str]) -> None:
    if thinking:
        # Anthropic refuses sampling changes alongside extended thinking.
        dropped.extend(
            f"{name} (with thinking)"
            for name, value in (
                ("temperature", req.temperature),
                ("top_p", req.top_p),
                ("top_k", req.top_k),
            )
            if value is not None
        )
        return
    if req.temperature is not None:
        temperature = min(max(req.temperature, 0.0), 1.0)
        if temperature != req.temperature:
            dropped.append(f"temperature clamped from {req.temperature} to {temperature}")
        body["temperature"] = temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k


def _tool_choice(choice: ir.ToolChoice) -> dict[str, Any]:
    out: dict[str, Any] = {"type": choice.type}
    if choice.type == "tool":
        out["name"] = choice.name
    if choice.disable_parallel_tool_use and choice.type != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _image_json(image: ir.Image, profile: UpstreamProfile, where: str) -> dict[str, Any]:
    if not profile.vision:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' does not accept images", param=where
        )
    if image.data is not None:
        source = {
            "type": "base64",
            "media_type": image.media_type or "image/png",
            "data": image.data,
        }
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": image.url}}


def _document_json(doc: ir.Document, profile: UpstreamProfile, where: str) -> dict[str, Any]:
    if doc.text is not None:
        source: dict[str, Any] = {"type": "text", "media_type": "text/plain", "data": doc.text}
    elif not profile.pdf:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' does not accept PDF documents", param=where
        )
    elif doc.data is not None:
        source = {"type": "base64", "media_type": doc.media_type or "application/pdf"}
        source["data"] = doc.data
    else:
        source = {"type": "url", "url": doc.url}
    out: dict[str, Any] = {"type": "document", "source": source}
    if doc.title:
        out["title"] = doc.title
    if doc.context:
        out["context"] = doc.context
    return out


def _tool_result_json(block: ir.ToolResult, profile: UpstreamProfile, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(block.tool_use_id)}
    if all(isinstance(p, ir.Text) for p in block.content):
        out["content"] = "\n".join(p.text for p in block.content if isinstance(p, ir.Text))
    else:
        out["content"] = [
            {"type": "text", "text": p.text}
            if isinstance(p, ir.Text)
            else _image_json(p, profile, where)
            for p in block.content
        ]
    if block.is_error:
        out["is_error"] = True
    return out


def _block_json(
    block: ir.Block, profile: UpstreamProfile, where: str, dropped: list[str]
) -> dict[str, Any] | None:
    match block:
        case ir.Text():
            return {"type": "text", "text": block.text} if block.text else None
        case ir.Image():
            return _image_json(block, profile, where)
        case ir.Document():
            return _document_json(block, profile, where)
        case ir.ToolUse():
            return {
                "type": "tool_use",
                "id": tool_id(block.id),
                "name": block.name,
                "input": block.input,
            }
        case ir.ToolResult():
            return _tool_result_json(block, profile, where)
        case ir.Thinking():
            if not block.signature:
                # Anthropic verifies thinking it is given back; unsigned reasoning from another
                # model cannot be replayed.
                dropped.append("thinking without a signature")
                return None
            return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
        case ir.RedactedThinking():
            return {"type": "redacted_thinking", "data": block.data}
        case _:
            assert_never(block)


def _message(
    msg: ir.Message, i: int, profile: UpstreamProfile, dropped: list[str]
) -> dict[str, Any]:
    where = f"messages.{i}"
    blocks = [
        _block_json(b, profile, f"{where}.content.{j}", dropped) for j, b in enumerate(msg.content)
    ]
    content = [b for b in blocks if b is not None]
    role = msg.role
    if role == "system":
        # A system turn in the middle of a conversation: sent as a user turn, which every
        # Anthropic-dialect upstream accepts (the API merges it with its neighbours).
        dropped.append("mid-conversation system message sent as user text")
        role = "user"
    if len(content) == 1 and content[0]["type"] == "text":
        return {"role": role, "content": content[0]["text"]}
    return {"role": role, "content": content}
