"""Strict checker for OpenAI chat-completion streams (`stream: true` on /v1/chat/completions).

The grammar the openai SDK and the clients built on it rely on: every event is a `data:` line
holding one `chat.completion.chunk` (no `event:` names), with one id, model and `created` for
the whole stream; a choice's first tool-call delta for an index carries the call's id and
function name, later ones only argument text; each choice gets one non-null `finish_reason`,
after which it carries nothing more; usage (`prompt_tokens + completion_tokens ==
total_tokens`) comes in a chunk with no choices, after every choice finished; `data: [DONE]`
ends the stream. A stream that breaks after its first byte ends with one `{"error": {...}}`
event instead. :func:`validate_chat_stream` raises StreamGrammarError naming the event."""

from __future__ import annotations

import json
from typing import Any

from .sse import parse_sse
from .stream_validator import StreamGrammarError

FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


def _fail(i: int, rule: str) -> StreamGrammarError:
    return StreamGrammarError(i, "chat", rule)


def validate_chat_stream(raw: bytes) -> list[dict[str, Any]]:
    """The chunks of a whole stream (or of the part a client read before it stopped)."""
    events = parse_sse(raw, allow_partial=True)
    chunks: list[dict[str, Any]] = []
    ident: tuple[object, object, object] | None = None
    finished: set[int] = set()
    started_tools: dict[tuple[int, int], str] = {}
    ended = False
    for i, event in enumerate(events):
        if ended:
            raise _fail(i, "an event after the stream's end")
        if event.event not in (None, "message"):
            raise _fail(i, f"a chat stream names no events (got {event.event!r})")
        if event.data == "[DONE]":
            ended = True
            continue
        data = json.loads(event.data)
        if not isinstance(data, dict):
            raise _fail(i, "not a JSON object")
        if "error" in data:
            error = data["error"]
            if not isinstance(error, dict) or not isinstance(error.get("message"), str):
                raise _fail(i, "an error event without error.message")
            ended = True
            continue
        if data.get("object") != "chat.completion.chunk":
            raise _fail(i, f"object is {data.get('object')!r}")
        seen = (data.get("id"), data.get("model"), data.get("created"))
        if not isinstance(seen[0], str) or not seen[0] or not isinstance(seen[2], int):
            raise _fail(i, "a chunk needs a string id and an integer created")
        if ident is None:
            ident = seen
        elif seen != ident:
            raise _fail(i, f"id, model or created changed: {seen} after {ident}")
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise _fail(i, "choices is not a list")
        for choice in choices:
            _choice(i, choice, finished, started_tools)
        usage = data.get("usage")
        if usage is not None:
            _usage(i, usage, choices, finished)
        chunks.append(data)
    if ended and ident is not None and not finished and not _errored(events):
        raise _fail(len(events), "the stream ended without a finish_reason")
    return chunks


def _choice(
    i: int, choice: Any, finished: set[int], started_tools: dict[tuple[int, int], str]
) -> None:
    if not isinstance(choice, dict) or not isinstance(choice.get("index"), int):
        raise _fail(i, "a choice without an integer index")
    index = choice["index"]
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        raise _fail(i, "a choice without a delta object")
    if index in finished and any(delta.get(k) for k in ("content", "tool_calls", "role")):
        raise _fail(i, f"choice {index} carries more after its finish_reason")
    role = delta.get("role")
    if role is not None and role != "assistant":
        raise _fail(i, f"role {role!r}")
    for name in ("content", "reasoning_content"):
        if delta.get(name) is not None and not isinstance(delta[name], str):
            raise _fail(i, f"delta.{name} is not a string")
    for call in delta.get("tool_calls") or []:
        _tool_call(i, index, call, started_tools)
    reason = choice.get("finish_reason")
    if reason is not None:
        if reason not in FINISH:
            raise _fail(i, f"finish_reason {reason!r}")
        if index in finished:
            raise _fail(i, f"choice {index} finished twice")
        finished.add(index)


def _tool_call(i: int, choice: int, call: Any, started: dict[tuple[int, int], str]) -> None:
    if not isinstance(call, dict) or not isinstance(call.get("index"), int):
        raise _fail(i, "a tool call delta without an integer index")
    function = call.get("function") or {}
    key = (choice, call["index"])
    if key not in started:
        if not isinstance(call.get("id"), str) or not call["id"]:
            raise _fail(i, f"tool call {call['index']} starts without an id")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise _fail(i, f"tool call {call['index']} starts without a function name")
        if call.get("type", "function") != "function":
            raise _fail(i, f"tool call type {call.get('type')!r}")
        started[key] = call["id"]
    elif call.get("id") not in (None, started[key]):
        raise _fail(i, f"tool call {call['index']} changed its id")
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        raise _fail(i, "function.arguments is not a string")


def _usage(i: int, usage: Any, choices: list[Any], finished: set[int]) -> None:
    if not isinstance(usage, dict):
        raise _fail(i, "usage is not an object")
    prompt, completion, total = (
        usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
    )
    if (
        not (isinstance(prompt, int) and isinstance(completion, int) and isinstance(total, int))
        or min(prompt, completion, total) < 0
    ):
        raise _fail(i, f"usage counts are not whole numbers: {usage}")
    if prompt + completion != total:
        raise _fail(i, f"total_tokens {total} is not prompt + completion")
    if choices or not finished:
        raise _fail(i, "usage comes alone (no choices), after every choice finished")


def _errored(events: list[Any]) -> bool:
    return any(e.data.startswith('{"error"') for e in events)
