"""validate_anthropic_stream accepts builder streams and names the rule each broken one violates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.anthropic_wire import ToolUseBlock, anthropic_event, anthropic_stream_events
from tests.support.mock_upstream import anthropic_stream
from tests.support.sse import SSEEvent, format_sse, parse_sse
from tests.support.stream_validator import (
    StreamErrorEvent,
    StreamGrammarError,
    accumulate_message,
    validate_anthropic_stream,
)

Events = list[dict[str, Any]]


def to_sse(events: Events) -> list[SSEEvent]:
    return parse_sse("".join(anthropic_event(e) for e in events))


def tool_events(pieces: list[str]) -> Events:
    return anthropic_stream_events(["hi"], tool_uses=[ToolUseBlock("f", pieces)])


def test_accepts_builder_streams() -> None:
    for reply in (
        anthropic_stream(),
        anthropic_stream([]),
        anthropic_stream(["a"], thinking="t", tool_uses=[ToolUseBlock("f"), ToolUseBlock("g", [])]),
    ):
        events = parse_sse("".join(str(f) for f in reply.frames))
        decoded = validate_anthropic_stream(events)
        assert decoded[0]["type"] == "message_start"
        assert decoded[-1] == {"type": "message_stop"}


def test_accepts_raw_bytes_and_leading_ping() -> None:
    events = [{"type": "ping"}, *anthropic_stream_events()]
    raw = "".join(anthropic_event(e) for e in events).encode()
    assert len(validate_anthropic_stream(raw)) == len(events)


def _swap(events: Events, a: int, b: int) -> Events:
    events[a], events[b] = events[b], events[a]
    return events


def _set(path: list[str | int], value: object, at: int) -> Callable[[Events], Events]:
    def mutate(events: Events) -> Events:
        target: Any = events[at]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return events

    return mutate


# Base stream (indices): 0 message_start, 1 block_start(0, text), 2 ping, 3 delta "Hel",
# 4 delta "lo", 5 block_stop(0), 6 message_delta, 7 message_stop.
BROKEN: dict[str, tuple[Callable[[Events], Events], int, str]] = {
    "interleaved blocks": (
        lambda e: [*e[:4], {**e[1], "index": 1}, *e[4:]],
        4,
        "one open block",
    ),
    "gap in index": (_set(["index"], 1, 1), 1, "block indices 0..n-1"),
    "missing message_stop": (lambda e: e[:-1], 7, "message_stop is last"),
    "message_delta before block stop": (lambda e: _swap(e, 5, 6), 5, "blocks closed"),
    "delta kind mismatch": (
        _set(["delta"], {"type": "input_json_delta", "partial_json": "{}"}, 3),
        3,
        "delta kind matches block",
    ),
    "delta for another index": (_set(["index"], 3, 4), 4, "delta for the open block"),
    "stop for another index": (_set(["index"], 1, 5), 5, "stop the open block"),
    "content before message_start": (lambda e: e[1:], 0, "message_start first"),
    "message_start content not empty": (
        _set(["message", "content"], [{"type": "text", "text": ""}], 0),
        0,
        "message_start.message.content",
    ),
    "message_start missing usage": (
        _set(["message", "usage"], {"input_tokens": 1}, 0),
        0,
        "message_start usage",
    ),
    "stop_reason in message_start": (
        _set(["message", "stop_reason"], "end_turn", 0),
        0,
        "message_start.message.stop_reason",
    ),
    "bad stop_reason": (_set(["delta", "stop_reason"], "stop", 6), 6, "message_delta.stop_reason"),
    "output_tokens not int": (_set(["usage", "output_tokens"], "2", 6), 6, "message_delta.usage"),
    "second message_start": (lambda e: [e[0], *e], 1, "one message_start"),
    "no message_delta": (lambda e: [*e[:6], e[7]], 6, "message_delta before message_stop"),
    "event after message_stop": (lambda e: [*e, {"type": "ping"}], 8, "message_stop is last"),
    "block after message_delta": (
        lambda e: [*e[:7], {**e[1], "index": 1}, *e[7:]],
        7,
        "blocks before message_delta",
    ),
    "unknown block type": (_set(["content_block", "type"], "image", 1), 1, "known block type"),
    "unknown event type": (lambda e: [*e[:2], {"type": "mystery"}, *e[2:]], 2, "known event type"),
    "error not final": (
        lambda e: [*e[:3], {"type": "error", "error": {"type": "x", "message": "m"}}, *e[3:]],
        3,
        "error is final",
    ),
    "error without message": (
        lambda e: [*e[:3], {"type": "error", "error": {"type": "x"}}],
        3,
        "error shape",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_rejects_broken_variant(name: str) -> None:
    mutate, index, rule = BROKEN[name]
    events = mutate(copy.deepcopy(anthropic_stream_events()))
    with pytest.raises(StreamGrammarError) as caught:
        validate_anthropic_stream(to_sse(events))
    assert caught.value.index == index
    assert rule in caught.value.rule
    assert str(caught.value).startswith(f"event #{index}: ")


@pytest.mark.parametrize(
    ("pieces", "detail"),
    [(['{"a": ', "]"], "Expecting value"), (["[1]"], "not an object"), (["{'a': 1}"], "Expecting")],
)
def test_rejects_bad_tool_json(pieces: list[str], detail: str) -> None:
    events = tool_events(pieces)
    stop_at = next(
        i for i, e in enumerate(events) if e == {"type": "content_block_stop", "index": 1}
    )
    with pytest.raises(StreamGrammarError, match="tool input is JSON") as caught:
        validate_anthropic_stream(to_sse(events))
    assert caught.value.index == stop_at
    assert detail in caught.value.detail


def test_rejects_wire_level_breaks() -> None:
    good = "".join(anthropic_event(e) for e in anthropic_stream_events())
    cases = {
        "no [DONE]": good + "data: [DONE]\n\n",
        "event name == data.type": good.replace("event: content_block_delta", "event: delta", 1),
        "unnamed event": format_sse({"type": "ping"}) + good,
        "data is JSON": "event: ping\ndata: {nope\n\n" + good,
        "data is an object": "event: ping\ndata: [1]\n\n" + good,
    }
    for rule, raw in cases.items():
        with pytest.raises(StreamGrammarError, match=rule.replace("[", r"\[").replace("]", r"\]")):
            validate_anthropic_stream(parse_sse(raw))
    with pytest.raises(StreamGrammarError, match="empty stream"):
        validate_anthropic_stream([])


def test_error_as_final_event_is_valid() -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events = [*anthropic_stream_events()[:4], error]
    assert validate_anthropic_stream(to_sse(events))[-1] == error
    assert validate_anthropic_stream(to_sse([error])) == [error]
    with pytest.raises(StreamErrorEvent) as caught:
        accumulate_message(to_sse(events))
    assert caught.value.error == error["error"]


def test_accumulate_message_rebuilds_content_and_usage() -> None:
    events = anthropic_stream_events(
        ["Hel", "lo"],
        thinking="deep",
        tool_uses=[
            ToolUseBlock("f", ["", '{"a": [1', ", 2]}"], id="toolu_x"),
            ToolUseBlock("g", []),
        ],
        stop_reason="tool_use",
        usage=(30, 9),
    )
    events[0]["message"]["usage"]["cache_read_input_tokens"] = 5
    events[-2]["usage"]["input_tokens"] = 31
    events[-2]["delta"]["stop_details"] = None
    message = accumulate_message(to_sse(events))
    assert message["content"] == [
        {"type": "thinking", "thinking": "deep", "signature": "sig_mock"},
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "toolu_x", "name": "f", "input": {"a": [1, 2]}},
        {"type": "tool_use", "id": "toolu_mock_1", "name": "g", "input": {}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["stop_sequence"] is None
    assert message["stop_details"] is None
    # message_delta usage overwrites what it carries and keeps the rest from message_start.
    assert message["usage"] == {
        "input_tokens": 31,
        "output_tokens": 9,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 5,
    }


def test_accumulate_citations_and_redacted_thinking() -> None:
    base = anthropic_stream_events(["a"])
    citation = {"type": "char_location", "cited_text": "x"}
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    events = [
        base[0],
        {"type": "content_block_start", "index": 0, "content_block": redacted},
        {"type": "content_block_stop", "index": 0},
        {**base[1], "index": 1},
        {**base[3], "index": 1},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "citations_delta", "citation": citation},
        },
        {**base[4], "index": 1},
        *base[5:],
    ]
    message = accumulate_message(to_sse(events))
    assert message["content"] == [redacted, {"type": "text", "text": "a", "citations": [citation]}]

    events[2:2] = [{"type": "content_block_delta", "index": 0, "delta": base[3]["delta"]}]
    with pytest.raises(StreamGrammarError, match="delta kind matches block"):
        validate_anthropic_stream(to_sse(events))
