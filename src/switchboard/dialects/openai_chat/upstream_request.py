"""IR request -> an OpenAI chat-completions body for one upstream model. Pure: everything the
upstream cannot take is either refused with a named error or listed in `Encoded.dropped`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, assert_never

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.openai_chat.names import upstream_tool_id, upstream_tool_name
from switchboard.dialects.openai_chat.schema import clean_schema
from switchboard.documents import pdf_text
from switchboard.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    """What the encoder must know of the model and of who serves it."""

    model_id: str  # the catalogue id, for error messages
    upstream_model: str
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    accepts_top_k: bool = False
    max_output_tokens: int | None = None
    vision: bool = True
    pdf: bool = False
    prompt_caching: bool = False
    strict_schemas: bool = False
    thinking_control: str = "none"  # config.Reasoning.control
    echo_field: str | None = None  # where earlier reasoning goes back, when the model needs it
    # Verifies a thinking block's signature: only reasoning this gateway issued is echoed.
    verify: Callable[[str, str], bool] | None = None
    # Whether the client's user id goes upstream as `user`: off unless the operator asks
    # (config `forward_user`), since Claude Code's carries its device id.
    forward_user: bool = False


class Encoded(msgspec.Struct):
    body: dict[str, Any]
    tool_names: dict[str, str] = msgspec.field(default_factory=dict)  # upstream name -> client name
    dropped: list[str] = msgspec.field(default_factory=list)


def encode_request(req: ir.Request, profile: UpstreamProfile) -> Encoded:
    out = Encoded(body={}, dropped=list(req.dropped))
    if profile.prompt_caching and "cache_control" in out.dropped:
        out.dropped[out.dropped.index("cache_control")] = (
            "cache_control (the upstream caches by itself)"
        )
    names: dict[str, str] = {}  # client name -> upstream name
    for tool in req.tools:
        names[tool.name] = upstream_tool_name(tool.name, set(names.values()))
    out.tool_names = {v: k for k, v in names.items()}

    body = out.body
    body["model"] = profile.upstream_model
    body["messages"] = _messages(req, profile, names, out.dropped)
    max_tokens = req.max_tokens
    if profile.max_output_tokens is not None and max_tokens > profile.max_output_tokens:
        out.dropped.append(f"max_tokens clamped from {max_tokens} to {profile.max_output_tokens}")
        max_tokens = profile.max_output_tokens
    if max_tokens == 0:
        # Anthropic's "pre-warm the cache, generate nothing" has no OpenAI equivalent.
        out.dropped.append("max_tokens 0 sent as 1")
        max_tokens = 1
    body[profile.max_tokens_field] = max_tokens
    if req.stop_sequences:
        body["stop"] = list(req.stop_sequences)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        if profile.accepts_top_k:
            body["top_k"] = req.top_k
        else:
            out.dropped.append("top_k")
    if req.user_id:
        if profile.forward_user:
            body["user"] = req.user_id
        else:
            out.dropped.append("metadata.user_id (not forwarded: provider forward_user)")
    if req.tools:
        body["tools"] = [_tool(t, names[t.name], profile, out.dropped) for t in req.tools]
        if req.tool_choice is not None:
            _tool_choice(req.tool_choice, names, body)
    if req.thinking is not None:
        _thinking(req.thinking, profile, body, out.dropped)
    if req.response_format is not None:
        body["response_format"] = _response_format_json(req.response_format)
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return out


def _tool(tool: ir.Tool, name: str, profile: UpstreamProfile, dropped: list[str]) -> dict[str, Any]:
    schema = tool.input_schema
    if profile.strict_schemas:
        schema, removed = clean_schema(schema)
        dropped.extend(f"tools.{tool.name}.input_schema: {k}" for k in sorted(removed))
    function: dict[str, Any] = {"name": name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = schema
    return {"type": "function", "function": function}


def _effort(budget: int | None) -> str:
    if budget is None:
        return "medium"
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def _thinking(
    cfg: ir.ThinkingConfig, profile: UpstreamProfile, body: dict[str, Any], dropped: list[str]
) -> None:
    """Anthropic's `thinking` in the upstream's own terms (docs/providers.md, reasoning)."""
    on = cfg.type != "disabled"
    match profile.thinking_control:
        case "reasoning_effort":
            if on:
                body["reasoning_effort"] = _effort(cfg.budget_tokens)
        case "thinking":
            body["thinking"] = {"type": "enabled" if on else "disabled"}
        case "enable_thinking":
            body["enable_thinking"] = on
            if on and cfg.budget_tokens:
                body["thinking_budget"] = cfg.budget_tokens
        case "chat_template":
            body["chat_template_kwargs"] = {"enable_thinking": on}
        case "openrouter":
            if not on:
                body["reasoning"] = {"effort": "none"}
            elif cfg.budget_tokens:
                body["reasoning"] = {"max_tokens": cfg.budget_tokens}
            else:
                body["reasoning"] = {"effort": "medium"}
        case _:
            if on:
                dropped.append(f"thinking ({cfg.type}): the model has no thinking control")


def _response_format_json(rf: ir.ResponseFormat) -> dict[str, Any]:
    if rf.type == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": rf.name or "response", "schema": rf.schema}
    if rf.strict is not None:
        schema["strict"] = rf.strict
    return {"type": "json_schema", "json_schema": schema}


def _tool_choice(choice: ir.ToolChoice, names: dict[str, str], body: dict[str, Any]) -> None:
    match choice.type:
        case "auto":
            body["tool_choice"] = "auto"
        case "any":
            body["tool_choice"] = "required"
        case "none":
            body["tool_choice"] = "none"
        case "tool":
            name = choice.name or ""
            if name not in names:
                raise InvalidRequest(
                    f"tool_choice.name: no tool named '{name}' in tools", param="tool_choice.name"
                )
            body["tool_choice"] = {"type": "function", "function": {"name": names[name]}}
        case _:
            assert_never(choice.type)
    if choice.disable_parallel_tool_use and choice.type != "none":
        body["parallel_tool_calls"] = False


def _image_part(image: ir.Image, profile: UpstreamProfile, where: str) -> dict[str, Any]:
    if not profile.vision:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' does not accept images", param=where
        )
    url = image.url or f"data:{image.media_type or 'image/png'};base64,{image.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(
    doc: ir.Document, profile: UpstreamProfile, where: str, dropped: list[str]
) -> dict[str, Any]:
    head = [x for x in (doc.title, doc.context) if x]
    if doc.text is not None:
        return {"type": "text", "text": "\n".join([*head, doc.text])}
    if doc.data is None:
        raise InvalidRequest(
            f"{where}.source: a document URL must be fetched first (documents.fetch_urls)",
            param=f"{where}.source",
        )
    if not profile.pdf:
        try:
            text = pdf_text(doc.data)
        except ValueError as exc:
            raise InvalidRequest(f"{where}: {exc}", param=where) from None
        dropped.append(f"{where}: PDF sent as extracted text ({profile.model_id} takes no PDFs)")
        return {"type": "text", "text": "\n".join([*head, text])}
    part: dict[str, Any] = {"file_data": f"data:{doc.media_type};base64,{doc.data}"}
    part["filename"] = (doc.title or "document") + ".pdf"
    return {"type": "file", "file": part}


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content goes as one string: the form every compatible server accepts."""
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _messages(
    req: ir.Request, profile: UpstreamProfile, names: dict[str, str], dropped: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if req.system:
        out.append({"role": "system", "content": "\n\n".join(t.text for t in req.system)})
    for i, msg in enumerate(req.messages):
        where = f"messages.{i}"
        if msg.role == "system":
            texts = [b.text for b in msg.content if isinstance(b, ir.Text)]
            out.append({"role": "system", "content": "\n\n".join(texts)})
        elif msg.role == "user":
            _user(msg, where, profile, out, dropped)
        else:
            _assistant(msg, names, profile, out, dropped)
    return out


def _user(
    msg: ir.Message,
    where: str,
    profile: UpstreamProfile,
    out: list[dict[str, Any]],
    dropped: list[str],
) -> None:
    # Tool results must directly follow the assistant turn that called them, so they go first.
    parts: list[dict[str, Any]] = []
    tool_images: list[dict[str, Any]] = []
    for j, block in enumerate(msg.content):
        at = f"{where}.content.{j}"
        match block:
            case ir.Text():
                parts.append({"type": "text", "text": block.text})
            case ir.Image():
                parts.append(_image_part(block, profile, at))
            case ir.Document():
                parts.append(_document_part(block, profile, at, dropped))
            case ir.ToolResult():
                call_id = upstream_tool_id(block.tool_use_id)
                texts = [p.text for p in block.content if isinstance(p, ir.Text)]
                text = "\n".join(texts)
                if block.is_error:
                    text = f"[tool error] {text}"
                out.append({"role": "tool", "tool_call_id": call_id, "content": text})
                images = [p for p in block.content if isinstance(p, ir.Image)]
                if images:
                    # An OpenAI tool message cannot hold images: they follow in a user turn.
                    tool_images.append(
                        {"type": "text", "text": f"Images returned by tool call {call_id}:"}
                    )
                    tool_images.extend(_image_part(im, profile, at) for im in images)
            case ir.ToolUse() | ir.Thinking() | ir.RedactedThinking():
                dropped.append(f"{type(block).__name__} in a user turn")
            case _:
                assert_never(block)
    parts = tool_images + parts
    if parts:
        out.append({"role": "user", "content": _content(parts)})


def _assistant(
    msg: ir.Message,
    names: dict[str, str],
    profile: UpstreamProfile,
    out: list[dict[str, Any]],
    dropped: list[str],
) -> None:
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in msg.content:
        match block:
            case ir.Text():
                texts.append(block.text)
            case ir.ToolUse():
                calls.append(
                    {
                        "id": upstream_tool_id(block.id),
                        "type": "function",
                        "function": {
                            "name": names.get(block.name, block.name),
                            "arguments": orjson.dumps(block.input).decode(),
                        },
                    }
                )
            case ir.Thinking():
                if profile.echo_field is None:
                    dropped.append("thinking")
                elif profile.verify is not None and profile.verify(block.thinking, block.signature):
                    reasoning.append(block.thinking)
                else:
                    dropped.append("thinking (signature not issued by this gateway)")
            case ir.RedactedThinking():
                dropped.append("redacted_thinking")
            case ir.Image() | ir.Document() | ir.ToolResult():
                dropped.append(f"{type(block).__name__} in an assistant turn")
            case _:
                assert_never(block)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if profile.echo_field is not None and (reasoning or calls):
        # Thinking models that need the echo reject tool-call turns without the field, even
        # when the turn had no reasoning: then it goes back empty.
        message[profile.echo_field] = "".join(reasoning)
    if message["content"] is None and not calls:
        return
    out.append(message)
