"""An upstream's chat completion -> IR response, and an IR response -> the client's chat
completion. The mappers here (stop and finish reasons, usage, tool calls) are shared with the
stream decoder and encoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.openai_chat import wire
from switchboard.dialects.openai_chat.names import client_tool_id
from switchboard.ids import tool_use_id

_decode_completion = msgspec.json.Decoder(wire.ChatCompletion).decode

KNOWN_FINISH = frozenset({"stop", "length", "tool_calls", "function_call", "content_filter"})


def stop_reason(
    finish: str | None, matched: str | int | None, had_tool_calls: bool
) -> tuple[ir.StopReason, str | None]:
    """`matched` is vLLM's `stop_reason` / SGLang's `matched_stop`: the stop string that matched
    (a token id, an int, means a stop token, i.e. a natural end)."""
    if had_tool_calls or finish in ("tool_calls", "function_call"):
        return "tool_use", None
    if finish == "length":
        return "max_tokens", None
    if finish == "content_filter":
        return "refusal", None
    if isinstance(matched, str) and matched:
        return "stop_sequence", matched
    return "end_turn", None


def usage(raw: wire.Usage | None) -> ir.Usage:
    """OpenAI's prompt_tokens include cached tokens; Anthropic's input_tokens do not."""
    if raw is None:
        return ir.Usage()
    cached = 0
    if raw.prompt_tokens_details is not None and raw.prompt_tokens_details.cached_tokens:
        cached = raw.prompt_tokens_details.cached_tokens
    elif raw.prompt_cache_hit_tokens:
        cached = raw.prompt_cache_hit_tokens
    prompt = raw.prompt_tokens or 0
    return ir.Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=raw.completion_tokens or 0,
        cache_read_tokens=cached,
    )


def arguments_text(arguments: str | dict[str, Any] | None) -> str:
    if arguments is None:
        return ""
    if isinstance(arguments, dict):
        return orjson.dumps(arguments).decode()
    return arguments


def repair_arguments(text: str) -> tuple[str, dict[str, Any]] | None:
    """Returns (suffix to append, parsed object) when `text` is, or trivially becomes, a JSON
    object: empty means `{}`; a truncated object is closed. None when it cannot be."""
    if not text.strip():
        # Clients read empty input as {}; whitespace alone needs the braces appended.
        return ("{}" if text else "", {})
    try:
        value = orjson.loads(text)
        return ("", value) if isinstance(value, dict) else None
    except orjson.JSONDecodeError:
        pass
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and (not stack or stack.pop() != ch):
            return None
    suffix = ('"' if in_string else "") + "".join(reversed(stack))
    try:
        value = orjson.loads(text + suffix)
    except orjson.JSONDecodeError:
        return None
    return (suffix, value) if isinstance(value, dict) else None


def tool_use(
    call_id: str | None, name: str, arguments: str, tool_names: dict[str, str]
) -> tuple[ir.ToolUse, bool]:
    """The block and whether its arguments had to be repaired or replaced."""
    repaired = repair_arguments(arguments)
    block_id = client_tool_id(call_id) if call_id else tool_use_id()
    original = tool_names.get(name, name)
    if repaired is None:
        return ir.ToolUse(block_id, original, {"_unparsed_arguments": arguments}), True
    suffix, value = repaired
    return ir.ToolUse(block_id, original, value), bool(suffix)


def no_signature(thinking: str) -> str:
    return ""


def decode_response(
    body: bytes, tool_names: dict[str, str], sign: Callable[[str], str] = no_signature
) -> tuple[ir.Response, list[str]]:
    """The response and the notes of what had to be changed (unknown finish reason, repaired
    tool arguments). Raises msgspec errors on a body that is not a completion."""
    completion = _decode_completion(body)
    notes: list[str] = []
    if not completion.choices or completion.choices[0].message is None:
        raise ValueError("the completion has no choices")
    choice = completion.choices[0]
    message = choice.message
    assert message is not None
    blocks: list[ir.Block] = []
    reasoning = message.reasoning_content or message.reasoning
    if reasoning:
        blocks.append(ir.Thinking(reasoning, sign(reasoning)))
    text = message.content if message.content is not None else message.refusal
    if text:
        blocks.append(ir.Text(text))
    for call in message.tool_calls or []:
        fn = call.function or wire.FunctionCall()
        block, changed = tool_use(call.id, fn.name or "", arguments_text(fn.arguments), tool_names)
        if changed:
            notes.append(f"tool call {block.name}: arguments repaired")
        blocks.append(block)
    if choice.finish_reason is not None and choice.finish_reason not in KNOWN_FINISH:
        notes.append(f"unknown finish_reason '{choice.finish_reason}' mapped to end_turn")
    reason, sequence = stop_reason(
        choice.finish_reason,
        choice.stop_reason if choice.stop_reason is not None else choice.matched_stop,
        bool(message.tool_calls),
    )
    return ir.Response(tuple(blocks), reason, usage(completion.usage), sequence), notes


# IR response -> a chat completion for the client (the OpenAI surface we serve).

FINISH: dict[ir.StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(reason: ir.StopReason, had_tool_calls: bool) -> str:
    """`tool_calls` whenever calls were made, unless the output was cut (clients must know)."""
    finish = FINISH[reason]
    if had_tool_calls and finish == "stop":
        return "tool_calls"
    return finish


def usage_json(u: ir.Usage) -> dict[str, Any]:
    """OpenAI's prompt_tokens include cached tokens (read and written); Anthropic's do not."""
    prompt = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    }


def tool_call_json(block: ir.ToolUse) -> dict[str, Any]:
    return {
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": orjson.dumps(block.input).decode()},
    }


def encode_response(
    resp: ir.Response, *, model: str, completion_id: str, created: int
) -> tuple[bytes, list[str]]:
    """The completion, and what it could not carry."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    dropped: list[str] = []
    for block in resp.content:
        match block:
            case ir.Text():
                texts.append(block.text)
            case ir.Thinking():
                # The signature only matters for replaying thinking to Anthropic, which a
                # chat-completions history cannot do.
                reasoning.append(block.thinking)
            case ir.RedactedThinking():
                dropped.append("redacted_thinking")
            case ir.ToolUse():
                calls.append(tool_call_json(block))
            case ir.Image() | ir.Document() | ir.ToolResult():
                dropped.append(f"{type(block).__name__} in a response")
            case ir.ServerToolUse() | ir.WebSearchResult() | ir.WebFetchResult():
                # Only an Anthropic request can ask for server tools (servertools/).
                dropped.append(f"{type(block).__name__} in a response")
            case _:
                assert_never(block)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.stop_reason, bool(calls)),
            }
        ],
        "usage": usage_json(resp.usage),
    }
    return orjson.dumps(body), dropped
