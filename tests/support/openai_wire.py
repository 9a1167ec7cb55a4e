"""Builders for OpenAI Chat Completions upstream replies (openai-chat-api.md sections 3-5)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .replies import JsonReply, SSEReply
from .sse import format_sse

DONE_FRAME = "data: [DONE]\n\n"


def _usage(usage: tuple[int, int], cached_tokens: int) -> dict[str, Any]:
    prompt, completion = usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def openai_tool_call(
    name: str, arguments: str | dict[str, Any], *, id_: str = "call_1"
) -> dict[str, Any]:
    """A complete ``message.tool_calls`` entry; dict arguments are JSON-encoded as OpenAI does."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}


def openai_completion(
    text: str | None = "ok",
    *,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (11, 3),
    cached_tokens: int = 0,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning_content: str | None = None,
    extra_choice_fields: dict[str, Any] | None = None,
    model: str = "upstream-model",
) -> JsonReply:
    """A full ``chat.completion`` object. ``text=None`` sends ``content: null`` (tool-only turns)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "refusal": None,
        "annotations": [],
    }
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason,
    }
    choice.update(extra_choice_fields or {})
    body: dict[str, Any] = {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "system_fingerprint": "fp_mock",
    }
    if usage is not None:
        body["usage"] = _usage(usage, cached_tokens)
    return JsonReply(body)


def openai_stream(
    pieces: list[str] | None = None,
    *,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (11, 3),
    cached_tokens: int = 0,
    tool_call_deltas: list[dict[str, Any]] | None = None,
    reasoning_pieces: list[str] | None = None,
    extra_finish_fields: dict[str, Any] | None = None,
    usage_in_choice: bool = False,
    done: bool = True,
    delay: float = 0.0,
    model: str = "upstream-model",
) -> SSEReply:
    """A ``chat.completion.chunk`` stream: reasoning, text, tool-call deltas, finish, usage, [DONE].

    ``pieces`` defaults to ``["Hel", "lo"]``. ``usage=None`` omits usage entirely; otherwise it is
    a final ``choices: []`` chunk (OpenAI ``include_usage``) or, with ``usage_in_choice``, it sits
    in ``choices[0].usage`` of the finish chunk as Moonshot does.
    """
    pieces = ["Hel", "lo"] if pieces is None else pieces
    header = {
        "id": _completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_mock",
    }
    # OpenAI sends "usage": null on every chunk when usage was requested; mirror that so the
    # gateway sees exactly what a real include_usage stream looks like.
    separate_usage = usage is not None and not usage_in_choice

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        out = {**header, "choices": choices}
        if separate_usage:
            out["usage"] = None
        return out

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    deltas: list[dict[str, Any]] = [{"reasoning_content": p} for p in reasoning_pieces or []]
    deltas += [{"content": p} for p in pieces]
    deltas += [{"tool_calls": [entry]} for entry in tool_call_deltas or []]
    # role goes on the first delta only: the SDK's .stream() helper concatenates repeated roles.
    if deltas:
        deltas[0] = {"role": "assistant", **deltas[0]}
    else:
        deltas = [{"role": "assistant", "content": ""}]
    chunks = [chunk([choice(d)]) for d in deltas]

    finish_choice = choice({}, finish_reason)
    finish_choice.update(extra_finish_fields or {})
    if usage is not None and usage_in_choice:
        finish_choice["usage"] = _usage(usage, cached_tokens)
    chunks.append(chunk([finish_choice]))
    if separate_usage and usage is not None:
        chunks.append({**header, "choices": [], "usage": _usage(usage, cached_tokens)})

    frames: list[str | bytes] = [format_sse(c) for c in chunks]
    if done:
        frames.append(DONE_FRAME)
    return SSEReply(frames, delay=delay)


def openai_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | int | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonReply:
    """The OpenAI error envelope ``{"error": {message, type, param, code}}`` with ``status``."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JsonReply(body, status=status, headers=dict(headers or {}))
