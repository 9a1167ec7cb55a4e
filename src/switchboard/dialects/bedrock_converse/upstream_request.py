"""IR request -> a Converse body for one Bedrock model. Pure: what Converse cannot carry is
refused with a named error (a client mistake the model could never serve) or listed in
`Encoded.dropped` (reported in the `switchboard-dropped` header)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, assert_never

from switchboard import ir
from switchboard.errors import InvalidRequest

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    model_id: str  # the catalogue id, for error messages
    upstream_model: str
    max_output_tokens: int | None = None
    vision: bool = True
    pdf: bool = False


@dataclass(slots=True)
class Encoded:
    body: dict[str, Any]
    dropped: list[str] = field(default_factory=list)


def encode_request(req: ir.Request, profile: UpstreamProfile) -> Encoded:
    out = Encoded(body={}, dropped=list(req.dropped))
    body, dropped = out.body, out.dropped
    max_tokens = req.max_tokens
    if profile.max_output_tokens is not None and max_tokens > profile.max_output_tokens:
        dropped.append(f"max_tokens clamped from {max_tokens} to {profile.max_output_tokens}")
        max_tokens = profile.max_output_tokens
    config: dict[str, Any] = {"maxTokens": max_tokens}
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    stops = [s for s in req.stop_sequences if s]
    if stops:
        config["stopSequences"] = stops[:4]
        if len(stops) > 4:
            dropped.append("stop sequences past the fourth")
    body["inferenceConfig"] = config
    if req.top_k is not None:
        dropped.append("top_k")
    if req.system:
        body["system"] = [{"text": t.text} for t in req.system if t.text]
    messages: list[dict[str, Any]] = []
    for i, message in enumerate(req.messages):
        content = _content(message, i, profile, dropped)
        if not content:
            continue
        role = message.role
        if role == "system":
            dropped.append("mid-conversation system message sent as user text")
            role = "user"
        if messages and messages[-1]["role"] == role:  # Converse wants turns to alternate
            messages[-1]["content"] += content
        else:
            messages.append({"role": role, "content": content})
    body["messages"] = messages
    if req.thinking is not None and req.thinking.type != "disabled":
        dropped.append("thinking (Converse models' reasoning controls are model-specific)")
    if req.response_format is not None:
        dropped.append("response_format")
    if req.user_id:
        dropped.append("metadata.user_id")
    _tools(req, body, dropped)
    return out


def _tools(req: ir.Request, body: dict[str, Any], dropped: list[str]) -> None:
    if not req.tools:
        return
    choice = req.tool_choice
    if choice is not None and choice.type == "none":
        # Converse has no "none": without the tools the model cannot call them. Past tool
        # calls in the history still need a toolConfig, so the tools stay when there are any.
        if not any(isinstance(b, ir.ToolUse) for m in req.messages for b in m.content):
            return
        dropped.append("tool_choice none")
    config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "inputSchema": {"json": t.input_schema},
                }
            }
            for t in req.tools
        ]
    }
    if choice is not None:
        if choice.type == "any":
            config["toolChoice"] = {"any": {}}
        elif choice.type == "tool" and choice.name:
            config["toolChoice"] = {"tool": {"name": choice.name}}
        elif choice.type == "auto":
            config["toolChoice"] = {"auto": {}}
        if choice.disable_parallel_tool_use:
            dropped.append("tool_choice.disable_parallel_tool_use")
    body["toolConfig"] = config


def _image(image: ir.Image, profile: UpstreamProfile, where: str) -> dict[str, Any]:
    if not profile.vision:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' does not take images", param=where
        )
    fmt = _IMAGE_FORMATS.get((image.media_type or "").lower())
    if image.data is None or fmt is None:
        raise InvalidRequest(
            f"{where}: Bedrock takes images as base64 data (png, jpeg, gif or webp), "
            "not URLs or other formats",
            param=where,
        )
    return {"image": {"format": fmt, "source": {"bytes": image.data}}}


def _document(doc: ir.Document, profile: UpstreamProfile, where: str, n: int) -> dict[str, Any]:
    if doc.text is not None:
        return {"text": doc.text if not doc.title else f"{doc.title}\n\n{doc.text}"}
    if doc.data is None or not profile.pdf:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' on Bedrock takes no PDF documents",
            param=where,
        )
    # Converse names documents; the name allows only letters, digits, spaces and -()[].
    name = "".join(c for c in (doc.title or "") if c.isalnum() or c in " -()[]").strip()
    return {
        "document": {
            "format": "pdf",
            "name": name or f"document-{n}",
            "source": {"bytes": doc.data},
        }
    }


def _content(
    message: ir.Message, i: int, profile: UpstreamProfile, dropped: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for j, block in enumerate(message.content):
        where = f"messages.{i}.content.{j}"
        match block:
            case ir.Text(text=text):
                if text:
                    out.append({"text": text})
            case ir.Image():
                out.append(_image(block, profile, where))
            case ir.Document():
                out.append(_document(block, profile, where, i * 100 + j))
            case ir.ToolUse(id=id_, name=name, input=input_):
                out.append({"toolUse": {"toolUseId": id_, "name": name, "input": input_}})
            case ir.ToolResult(tool_use_id=tool_use_id, content=content, is_error=is_error):
                parts: list[dict[str, Any]] = []
                for k, part in enumerate(content):
                    if isinstance(part, ir.Text):
                        parts.append({"text": part.text})
                    else:
                        parts.append(_image(part, profile, f"{where}.content.{k}"))
                result: dict[str, Any] = {
                    "toolUseId": tool_use_id,
                    "content": parts or [{"text": ""}],
                }
                if is_error:
                    result["status"] = "error"
                out.append({"toolResult": result})
            case ir.Thinking() | ir.RedactedThinking():
                # Another model's reasoning, or this one's without a way to replay it.
                if "thinking blocks of earlier turns" not in dropped:
                    dropped.append("thinking blocks of earlier turns")
            case _:
                assert_never(block)
    return out
