"""IR request -> an Anthropic Messages body for one upstream model (a translated request, e.g. an
OpenAI client reaching an Anthropic-dialect upstream). Pure: what cannot be carried is refused
with a named error or listed in `Encoded.dropped`."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, assert_never

import msgspec

from switchboard import ir
from switchboard.errors import InvalidRequest

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


class Encoded(msgspec.Struct):
    body: dict[str, Any]
    dropped: list[str] = msgspec.field(default_factory=list)


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
