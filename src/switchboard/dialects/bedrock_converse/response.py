"""A Converse reply -> the IR response. The stop-reason and usage mappers are shared with the
stream decoder."""

from __future__ import annotations

import msgspec

from switchboard import ir
from switchboard.dialects.bedrock_converse import wire

_decode = msgspec.json.Decoder(wire.ConverseResponse).decode

_STOP: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}


def stop_reason(raw: str | None, notes: list[str]) -> ir.StopReason:
    found = _STOP.get(raw or "")
    if found is None:
        notes.append(f"stop reason {raw!r} reported as end_turn")
        return "end_turn"
    if raw in ("guardrail_intervened", "content_filtered"):
        notes.append(f"stop reason {raw} reported as refusal")
    return found


def usage(raw: wire.Usage | None) -> ir.Usage:
    """Converse's inputTokens exclude cache reads and writes, as Anthropic's do."""
    if raw is None:
        return ir.Usage()
    return ir.Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_read_tokens=raw.cache_read_input_tokens or 0,
        cache_write_tokens=raw.cache_write_input_tokens or 0,
    )


def decode_response(body: bytes) -> tuple[ir.Response, list[str]]:
    raw = _decode(body)
    notes: list[str] = []
    blocks: list[ir.Block] = []
    message = raw.output.message
    for block in message.content if message is not None else []:
        if block.text is not None:
            blocks.append(ir.Text(block.text))
        elif block.tool_use is not None:
            args = block.tool_use.input
            blocks.append(
                ir.ToolUse(
                    block.tool_use.tool_use_id,
                    block.tool_use.name,
                    args if isinstance(args, dict) else {},
                )
            )
        elif block.reasoning_content is not None:
            reasoning = block.reasoning_content
            if reasoning.reasoning_text is not None:
                # Unsigned by the gateway: Converse reasoning is shown, never replayed upstream.
                blocks.append(ir.Thinking(reasoning.reasoning_text.text))
            elif reasoning.redacted_content is not None:
                notes.append("redacted reasoning")
    return ir.Response(tuple(blocks), stop_reason(raw.stop_reason, notes), usage(raw.usage)), notes
