"""Strict checker for OpenAI Responses API event streams (`POST /v1/responses`, `stream: true`).

The grammar the openai SDK's stream accumulator and Codex CLI rely on: every event named (its
`event:` line equals its `type`) and numbered (`sequence_number` 0, 1, 2... without a gap);
`response.created` then `response.in_progress` first; output items opened in `output_index`
order, each closed before the next opens, with the events of its kind in between (a message:
content part added, text deltas, text done equal to the deltas, part done; a reasoning item:
summary part added, summary deltas, summary done, part done; a function call: argument deltas,
arguments done equal to them); then exactly one terminal event (`response.completed`,
`response.incomplete` or `response.failed`) whose response lists the items as they were done.
:func:`validate_responses_stream` raises StreamGrammarError naming the event index and rule."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .sse import SSEEvent, parse_sse
from .stream_validator import StreamGrammarError

TERMINAL = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
# item type -> the events allowed while it is open, in the order they must first appear
_ITEM_EVENTS: dict[str, tuple[str, ...]] = {
    "message": (
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
    ),
    "reasoning": (
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ),
    "function_call": (
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
    ),
}
_DELTAS = {
    "response.output_text.delta": "response.output_text.done",
    "response.reasoning_summary_text.delta": "response.reasoning_summary_text.done",
    "response.function_call_arguments.delta": "response.function_call_arguments.done",
}
# A call without arguments is done with `{}` (what a client parses), after no delta.
_EMPTY = {"response.function_call_arguments.done": "{}"}
_DONE_FIELD = {
    "response.output_text.done": "text",
    "response.reasoning_summary_text.done": "text",
    "response.function_call_arguments.done": "arguments",
}


def _fail(i: int, rule: str) -> StreamGrammarError:
    return StreamGrammarError(i, "responses", rule)


def validate_responses_stream(raw: Sequence[SSEEvent] | bytes | str) -> list[dict[str, Any]]:
    """The events' payloads, once the whole stream has been checked."""
    events = parse_sse(raw) if isinstance(raw, bytes | str) else list(raw)
    payloads: list[dict[str, Any]] = []
    for i, ev in enumerate(events):
        data = json.loads(ev.data)
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise _fail(i, "data is not an object with a type")
        if ev.event != data["type"]:
            raise _fail(i, f"event name {ev.event!r} is not its type {data['type']!r}")
        if data.get("sequence_number") != i:
            raise _fail(i, f"sequence_number {data.get('sequence_number')!r}, expected {i}")
        payloads.append(data)
    if len(payloads) < 3:
        raise _fail(len(payloads), f"only {len(payloads)} events")
    kinds = [p["type"] for p in payloads]
    if kinds[:2] != ["response.created", "response.in_progress"]:
        raise _fail(0, f"a stream starts with created, in_progress; got {kinds[:2]}")
    rid = payloads[0]["response"]["id"]
    if not rid.startswith("resp_") or payloads[0]["response"]["status"] != "in_progress":
        raise _fail(0, "the created response needs a resp_ id and status in_progress")
    if kinds[-1] not in TERMINAL or any(k in TERMINAL for k in kinds[:-1]):
        raise _fail(len(kinds) - 1, "exactly one terminal event, the last")
    done_items: list[dict[str, Any]] = []
    open_item: dict[str, Any] | None = None
    seen: list[str] = []  # the open item's events so far
    text = ""
    for i, p in enumerate(payloads[2:-1], start=2):
        kind = p["type"]
        if kind == "response.output_item.added":
            if open_item is not None:
                raise _fail(i, "an item was added while another is open")
            if p["output_index"] != len(done_items):
                raise _fail(i, f"output_index {p['output_index']}, expected {len(done_items)}")
            open_item, seen, text = p["item"], [], ""
            if open_item["type"] not in _ITEM_EVENTS or not open_item.get("id"):
                raise _fail(i, f"unknown item type or no id: {open_item}")
            continue
        if open_item is None:
            raise _fail(i, f"{kind} outside an item")
        if p["output_index"] != len(done_items):
            raise _fail(i, "output_index is not the open item's")
        if kind == "response.output_item.done":
            item = p["item"]
            if item["id"] != open_item["id"] or item["type"] != open_item["type"]:
                raise _fail(i, "the done item is not the one added")
            if [k for k in _ITEM_EVENTS[item["type"]] if k not in seen and "delta" not in k]:
                raise _fail(i, f"item done before its events: saw {seen}")
            done_items.append(item)
            open_item = None
            continue
        allowed = _ITEM_EVENTS[open_item["type"]]
        if kind not in allowed:
            raise _fail(i, f"{kind} inside a {open_item['type']} item")
        if p["item_id"] != open_item["id"]:
            raise _fail(i, "item_id is not the open item's id")
        position = allowed.index(kind)
        if any(allowed.index(k) > position for k in seen):
            raise _fail(i, f"{kind} after {seen[-1]}")
        if kind in _DELTAS:
            if not isinstance(p["delta"], str):
                raise _fail(i, "a delta is a string")
            text += p["delta"]
        elif kind in _DONE_FIELD and p[_DONE_FIELD[kind]] != (text or _EMPTY.get(kind, "")):
            raise _fail(i, f"{kind} does not equal its deltas")
        seen.append(kind)
    if open_item is not None and kinds[-1] != "response.failed":
        # Only a failure may leave an item unfinished.
        raise _fail(len(payloads) - 1, "the stream ended with an item open")
    final = payloads[-1]["response"]
    if final["id"] != rid or final["status"] != TERMINAL[kinds[-1]]:
        raise _fail(len(payloads) - 1, "the final response's id or status does not match")
    if kinds[-1] != "response.failed" and final["output"] != done_items:
        raise _fail(len(payloads) - 1, "the final output is not the items done")
    if kinds[-1] != "response.failed" and final["usage"] is None:
        raise _fail(len(payloads) - 1, "a finished response has usage")
    return payloads
