"""A Gemini `GenerateContentResponse` -> IR response. The mappers here (finish reasons, usage,
parts) are shared with the stream decoder."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from switchboard import ir
from switchboard.dialects.gemini import wire
from switchboard.dialects.openai_chat.names import client_tool_id
from switchboard.ids import tool_use_id

_decode = msgspec.json.Decoder(wire.Response).decode

Seal = Callable[[str, str], str]  # (thinking text, thoughtSignature or "") -> block signature

# Every finishReason Gemini and Vertex document, and what a client is told.
FINISH: dict[str, ir.StopReason] = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "LANGUAGE": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
    "IMAGE_PROHIBITED_CONTENT": "refusal",
    "IMAGE_RECITATION": "refusal",
    "MALFORMED_FUNCTION_CALL": "end_turn",
    "UNEXPECTED_TOOL_CALL": "end_turn",
    "TOO_MANY_TOOL_CALLS": "end_turn",
    "MISSING_THOUGHT_SIGNATURE": "end_turn",
    "NO_IMAGE": "end_turn",
    "IMAGE_OTHER": "end_turn",
    "OTHER": "end_turn",
    "FINISH_REASON_UNSPECIFIED": "end_turn",
}
# Ends that are neither a natural stop nor a limit: the loss report names them.
_NOTED = frozenset(FINISH) - {"STOP", "MAX_TOKENS"}


def stop_reason(finish: str | None, had_calls: bool, notes: list[str]) -> ir.StopReason:
    """Gemini says STOP after function calls too; clients need `tool_use` then."""
    if finish is not None and finish not in FINISH:
        notes.append(f"unknown finishReason '{finish}' mapped to end_turn")
    elif finish in _NOTED:
        notes.append(f"finishReason {finish}")
    reason = FINISH.get(finish or "STOP", "end_turn")
    if had_calls and reason == "end_turn":
        return "tool_use"
    return reason


def usage(raw: wire.UsageMetadata | None) -> ir.Usage:
    """Gemini's promptTokenCount includes the cached tokens (Anthropic's input_tokens do not);
    thinking tokens are counted apart from candidates but billed as output."""
    if raw is None:
        return ir.Usage()
    cached = raw.cached_content_token_count
    prompt = raw.prompt_token_count + raw.tool_use_prompt_token_count
    return ir.Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=raw.candidates_token_count + raw.thoughts_token_count,
        cache_read_tokens=cached,
    )


def tool_use(call: wire.FunctionCall, tool_names: dict[str, str]) -> ir.ToolUse:
    """Gemini's call ids (when it sends one) are wrapped if they are not Anthropic-safe."""
    block_id = client_tool_id(call.id) if call.id else tool_use_id()
    return ir.ToolUse(block_id, tool_names.get(call.name, call.name), call.args or {})


def decode_response(
    body: bytes, tool_names: dict[str, str], seal: Seal
) -> tuple[ir.Response, list[str]]:
    """The response and the notes of what the client is not told otherwise (a blocked prompt,
    a safety stop). Raises msgspec errors on a body that is not a GenerateContentResponse."""
    reply = _decode(body)
    notes: list[str] = []
    if not reply.candidates:
        blocked = reply.prompt_feedback.block_reason if reply.prompt_feedback else None
        if blocked is None:
            raise ValueError("the reply has no candidates")
        notes.append(f"prompt blocked: {blocked}")
        return ir.Response((), "refusal", usage(reply.usage_metadata)), notes
    candidate = reply.candidates[0]
    blocks: list[ir.Block] = []
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    thought: list[str] = []
    thought_sig = ""
    for part in parts:
        if part.thought:
            thought.append(part.text or "")
            thought_sig = part.thought_signature or thought_sig
            continue
        if thought:
            text = "".join(thought)
            blocks.append(ir.Thinking(text, seal(text, thought_sig)))
            thought, thought_sig = [], ""
        if part.thought_signature:
            blocks.append(ir.Thinking("", seal("", part.thought_signature)))
        if part.function_call is not None:
            blocks.append(tool_use(part.function_call, tool_names))
        elif part.text:
            if blocks and isinstance(blocks[-1], ir.Text):
                blocks[-1] = ir.Text(blocks[-1].text + part.text)
            else:
                blocks.append(ir.Text(part.text))
    if thought:
        text = "".join(thought)
        blocks.append(ir.Thinking(text, seal(text, thought_sig)))
    had_calls = any(isinstance(b, ir.ToolUse) for b in blocks)
    reason = stop_reason(candidate.finish_reason, had_calls, notes)
    return ir.Response(tuple(blocks), reason, usage(reply.usage_metadata)), notes
