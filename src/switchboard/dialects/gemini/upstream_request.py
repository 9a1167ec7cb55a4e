"""IR request -> a Gemini `generateContent` body. Pure: everything Gemini cannot take is either
refused with a named error or listed in `Encoded.dropped`.

Thought signatures: Gemini returns opaque `thoughtSignature`s on parts and wants each back on the
same part next turn (Gemini 3 answers 400 without the one on a function call). They reach the
client inside `thinking` blocks whose signature the gateway sealed (signing.py), so a client can
neither forge one nor replay one under other text; a block whose seal does not verify is dropped
(and named). A thinking block with text is a thought part; an empty one carries only a signature,
which goes back on the part that follows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, assert_never

from switchboard import ir
from switchboard.dialects.gemini.schema import clean_schema
from switchboard.dialects.openai_chat.names import upstream_tool_id, upstream_tool_name
from switchboard.errors import InvalidRequest

# Google's documented stand-in for a function call whose signature was lost (a client that
# cannot carry signatures, such as a chat-completions client): Gemini 3 accepts it.
SKIP_SIGNATURE = "skip_thought_signature_validator"
MAX_STOP_SEQUENCES = 5


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    """What the encoder must know of the model."""

    model_id: str  # the catalogue id, for error messages
    upstream_model: str
    max_output_tokens: int | None = None
    vision: bool = True
    pdf: bool = True
    thinking: bool = True
    # `budget`: thinkingBudget (Gemini 2.5); `level`: thinkingLevel (Gemini 3).
    thinking_style: Literal["budget", "level"] = "budget"
    # Whether thinking can be turned off (Flash and Flash-Lite can, Pro cannot).
    thinking_off: bool = True
    # Gemini 3 requires a signature on replayed function calls.
    needs_signatures: bool = False
    # The payload a sealed signature carries, or None when it was not issued by this gateway.
    unseal: Callable[[str, str], str | None] | None = None


@dataclass(slots=True)
class Encoded:
    body: dict[str, Any]
    tool_names: dict[str, str] = field(default_factory=dict)  # upstream name -> client name
    dropped: list[str] = field(default_factory=list)


def profile_for(
    model_id: str,
    upstream_model: str,
    *,
    max_output_tokens: int | None,
    vision: bool,
    pdf: bool,
    thinking: bool,
    unseal: Callable[[str, str], str | None],
) -> UpstreamProfile:
    """Gemini's controls differ by generation; the upstream model name tells which."""
    name = upstream_model.rsplit("/", 1)[-1]
    third = name.startswith("gemini-3")
    return UpstreamProfile(
        model_id=model_id,
        upstream_model=upstream_model,
        max_output_tokens=max_output_tokens,
        vision=vision,
        pdf=pdf,
        thinking=thinking,
        thinking_style="level" if third else "budget",
        thinking_off="-pro" not in name,
        needs_signatures=third,
        unseal=unseal,
    )


def encode_request(req: ir.Request, profile: UpstreamProfile) -> Encoded:
    out = Encoded(body={}, dropped=list(req.dropped))
    names: dict[str, str] = {}  # client name -> upstream name
    for tool in req.tools:
        names[tool.name] = upstream_tool_name(tool.name, set(names.values()))
    out.tool_names = {v: k for k, v in names.items()}
    body = out.body
    system = [{"text": t.text} for t in req.system]
    contents = _contents(req, profile, names, system, out.dropped)
    if system:
        body["systemInstruction"] = {"parts": system}
    body["contents"] = contents
    if req.tools:
        declarations = [_declaration(t, names[t.name], out.dropped) for t in req.tools]
        body["tools"] = [{"functionDeclarations": declarations}]
        if req.tool_choice is not None:
            body["toolConfig"] = _tool_choice(req.tool_choice, names, out.dropped)
    body["generationConfig"] = _generation(req, profile, out.dropped)
    return out


def _generation(req: ir.Request, profile: UpstreamProfile, dropped: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = req.max_tokens
    if profile.max_output_tokens is not None and max_tokens > profile.max_output_tokens:
        dropped.append(f"max_tokens clamped from {max_tokens} to {profile.max_output_tokens}")
        max_tokens = profile.max_output_tokens
    if max_tokens == 0:
        dropped.append("max_tokens 0 sent as 1")
        max_tokens = 1
    config["maxOutputTokens"] = max_tokens
    if req.stop_sequences:
        stops = list(req.stop_sequences)
        if len(stops) > MAX_STOP_SEQUENCES:
            dropped.append(f"stop_sequences beyond the first {MAX_STOP_SEQUENCES}")
            stops = stops[:MAX_STOP_SEQUENCES]
        config["stopSequences"] = stops
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.top_k is not None:
        config["topK"] = req.top_k
    if req.user_id:
        dropped.append("metadata.user_id")
    if req.response_format is not None:
        config["responseMimeType"] = "application/json"
        if req.response_format.type == "json_schema" and req.response_format.schema:
            schema, removed = clean_schema(req.response_format.schema)
            dropped.extend(f"response_format.schema: {k}" for k in sorted(removed))
            config["responseSchema"] = schema
    if req.thinking is not None:
        thinking = _thinking(req.thinking, profile, dropped)
        if thinking:
            config["thinkingConfig"] = thinking
    return config


def _thinking(
    cfg: ir.ThinkingConfig, profile: UpstreamProfile, dropped: list[str]
) -> dict[str, Any] | None:
    """Anthropic's `thinking` (and OpenAI's `reasoning_effort`, decoded into it) in Gemini's
    terms: a token budget on 2.5, a level on 3; thought summaries asked for whenever on."""
    if not profile.thinking:
        if cfg.type != "disabled":
            dropped.append(f"thinking ({cfg.type}): {profile.model_id} does not think")
        return None
    if cfg.type == "disabled":
        if not profile.thinking_off:
            dropped.append(f"thinking disabled: {profile.model_id} cannot turn thinking off")
            return None
        if profile.thinking_style == "level":
            return {"thinkingLevel": "minimal"}
        return {"thinkingBudget": 0}
    out: dict[str, Any] = {"includeThoughts": True}
    budget = cfg.budget_tokens
    if profile.thinking_style == "level":
        if budget is not None:
            out["thinkingLevel"] = "low" if budget < 8192 else "high"
    else:
        # No budget (adaptive, or enabled without one): the model decides (-1, dynamic).
        out["thinkingBudget"] = budget if budget is not None else -1
    return out


def _declaration(tool: ir.Tool, name: str, dropped: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if tool.description:
        out["description"] = tool.description
    schema, removed = clean_schema(tool.input_schema)
    dropped.extend(f"tools.{tool.name}.input_schema: {k}" for k in sorted(removed))
    if schema.get("type") == "object" and not schema.get("properties"):
        return out  # Gemini refuses an object schema without properties: no parameters
    out["parameters"] = schema
    return out


def _tool_choice(
    choice: ir.ToolChoice, names: dict[str, str], dropped: list[str]
) -> dict[str, Any]:
    if choice.disable_parallel_tool_use and choice.type != "none":
        dropped.append("tool_choice.disable_parallel_tool_use")
    match choice.type:
        case "auto":
            return {"functionCallingConfig": {"mode": "AUTO"}}
        case "any":
            return {"functionCallingConfig": {"mode": "ANY"}}
        case "none":
            return {"functionCallingConfig": {"mode": "NONE"}}
        case "tool":
            name = choice.name or ""
            if name not in names:
                raise InvalidRequest(
                    f"tool_choice.name: no tool named '{name}' in tools", param="tool_choice.name"
                )
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [names[name]]}}
        case _:
            assert_never(choice.type)


def _inline(media_type: str, data: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": media_type, "data": data}}


def _image(image: ir.Image, profile: UpstreamProfile, where: str) -> dict[str, Any]:
    if not profile.vision:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' does not accept images", param=where
        )
    if image.data is not None:
        return _inline(image.media_type or "image/png", image.data)
    return {"fileData": {"mimeType": image.media_type or "image/jpeg", "fileUri": image.url}}


def _document(doc: ir.Document, profile: UpstreamProfile, where: str) -> list[dict[str, Any]]:
    head = [x for x in (doc.title, doc.context) if x]
    if doc.text is not None:
        return [{"text": "\n".join([*head, doc.text])}]
    if doc.data is None:
        raise InvalidRequest(
            f"{where}.source: a document URL must be fetched first (documents.fetch_urls)",
            param=f"{where}.source",
        )
    if not profile.pdf:
        raise InvalidRequest(
            f"{where}: model '{profile.model_id}' does not accept PDFs", param=where
        )
    parts = [{"text": "\n".join(head)}] if head else []
    return [*parts, _inline(doc.media_type or "application/pdf", doc.data)]


def _contents(
    req: ir.Request,
    profile: UpstreamProfile,
    names: dict[str, str],
    system: list[dict[str, Any]],
    dropped: list[str],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    calls: dict[str, str] = {}  # tool_use id -> upstream function name, for the responses
    for i, msg in enumerate(req.messages):
        where = f"messages.{i}"
        if msg.role == "system":
            # Gemini has one system instruction; a mid-conversation one joins it.
            system.extend({"text": b.text} for b in msg.content if isinstance(b, ir.Text))
            dropped.append(f"{where}: system message moved to the system instruction")
            continue
        if msg.role == "user":
            parts = _user(msg, where, profile, calls, dropped)
            role = "user"
        else:
            parts = _model(msg, profile, names, calls, dropped)
            role = "model"
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)  # Gemini wants the roles to alternate
        else:
            out.append({"role": role, "parts": parts})
    return out


def _user(
    msg: ir.Message,
    where: str,
    profile: UpstreamProfile,
    calls: dict[str, str],
    dropped: list[str],
) -> list[dict[str, Any]]:
    # Function responses must directly follow the model turn that called them: they go first.
    responses: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(msg.content):
        at = f"{where}.content.{j}"
        match block:
            case ir.Text():
                parts.append({"text": block.text})
            case ir.Image():
                parts.append(_image(block, profile, at))
            case ir.Document():
                parts.extend(_document(block, profile, at))
            case ir.ToolResult():
                text = "\n".join(p.text for p in block.content if isinstance(p, ir.Text))
                name = calls.get(block.tool_use_id)
                if name is None:
                    raise InvalidRequest(
                        f"{at}.tool_use_id: no earlier tool_use with id '{block.tool_use_id}'",
                        param=f"{at}.tool_use_id",
                    )
                response = {"error": text} if block.is_error else {"content": text}
                responses.append(
                    {
                        "functionResponse": {
                            "id": upstream_tool_id(block.tool_use_id),
                            "name": name,
                            "response": response,
                        }
                    }
                )
                # Images a tool returned follow its response as parts of the same turn.
                responses.extend(
                    _image(p, profile, at) for p in block.content if isinstance(p, ir.Image)
                )
            case ir.ToolUse() | ir.Thinking() | ir.RedactedThinking():
                dropped.append(f"{type(block).__name__} in a user turn")
            case _:
                assert_never(block)
    return responses + parts


def _model(
    msg: ir.Message,
    profile: UpstreamProfile,
    names: dict[str, str],
    calls: dict[str, str],
    dropped: list[str],
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pending: str | None = None  # a signature for the next part
    signed_call = False
    for block in msg.content:
        match block:
            case ir.Thinking():
                payload = (
                    profile.unseal(block.thinking, block.signature) if profile.unseal else None
                )
                if payload is None:
                    dropped.append("thinking (signature not issued by this gateway)")
                elif block.thinking:
                    part: dict[str, Any] = {"text": block.thinking, "thought": True}
                    if payload:
                        part["thoughtSignature"] = payload
                    parts.append(part)
                elif payload:
                    pending = payload
            case ir.Text():
                part = {"text": block.text}
                if pending:
                    part["thoughtSignature"], pending = pending, None
                parts.append(part)
            case ir.ToolUse():
                name = names.get(block.name, upstream_tool_name(block.name, set()))
                calls[block.id] = name
                call = {"id": upstream_tool_id(block.id), "name": name, "args": block.input}
                part = {"functionCall": call}
                if pending:
                    part["thoughtSignature"], pending = pending, None
                    signed_call = True
                elif profile.needs_signatures and not signed_call:
                    part["thoughtSignature"] = SKIP_SIGNATURE
                    signed_call = True
                    dropped.append(f"tool_use {block.name}: no thought signature to replay")
                parts.append(part)
            case ir.RedactedThinking():
                dropped.append("redacted_thinking")
            case ir.Image() | ir.Document() | ir.ToolResult():
                dropped.append(f"{type(block).__name__} in an assistant turn")
            case _:
                assert_never(block)
    if pending:
        parts.append({"text": "", "thoughtSignature": pending})
    return parts
