"""The Responses dialect, pure: client bodies -> IR (tables), IR -> the response object, and IR
event sequences -> a typed event stream that the Responses grammar validator accepts (and the
validator refusing streams that break it)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchboard import ir
from switchboard.dialects.openai_responses.request import decode_request, items, parse
from switchboard.dialects.openai_responses.response import Echo, encode_response
from switchboard.dialects.openai_responses.stream import StreamEncoder
from switchboard.errors import InvalidRequest
from tests.support.responses_stream import validate_responses_stream
from tests.support.stream_validator import StreamGrammarError


def decode(body: dict[str, Any], history: list[Any] | None = None) -> ir.Request:
    w, dropped = parse(orjson.dumps(body))
    return decode_request(w, (history or []) + items(w), len(history or []), dropped)


def test_string_input_and_instructions() -> None:
    req = decode({"model": "m", "input": "hi", "instructions": "Be brief.", "max_output_tokens": 9})
    assert req.system == (ir.Text("Be brief."),)
    assert req.messages == (ir.Message("user", (ir.Text("hi"),)),)
    assert req.max_tokens == 9


def test_items_become_turns() -> None:
    req = decode(
        {
            "model": "m",
            "input": [
                {"role": "developer", "content": "sys"},
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "think"}],
                    "encrypted_content": "sig",
                },
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "w",
                    "arguments": '{"a": 1}',
                    "namespace": "ns",
                },
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "It is sunny."}],
                },
            ],
        }
    )
    assert req.system == (ir.Text("sys"),)
    assert req.messages == (
        ir.Message("user", (ir.Text("weather?"),)),
        ir.Message("assistant", (ir.Thinking("think", "sig"), ir.ToolUse("c1", "w", {"a": 1}))),
        ir.Message("user", (ir.ToolResult("c1", (ir.Text("sunny"),)),)),
        ir.Message("assistant", (ir.Text("It is sunny."),)),
    )


def test_stored_items_come_first() -> None:
    stored = [{"type": "message", "role": "user", "content": "first"}]
    req = decode({"model": "m", "input": "second"}, stored)
    # One user turn: consecutive turns of a role are merged, the stored ones first.
    assert req.messages == (ir.Message("user", (ir.Text("first"), ir.Text("second"))),)


def test_tools_formats_and_choices() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    req = decode(
        {
            "model": "m",
            "input": "hi",
            "tools": [
                {"type": "function", "name": "f", "parameters": schema},
                {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g"}]},
            ],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "text": {"format": {"type": "json_schema", "name": "o", "schema": schema}},
            "reasoning": {"effort": "low", "summary": "auto"},
        }
    )
    assert [t.name for t in req.tools] == ["f", "g"]
    assert req.tool_choice == ir.ToolChoice("any", disable_parallel_tool_use=True)
    assert req.response_format == ir.ResponseFormat("json_schema", schema, "o", None)
    assert req.thinking == ir.ThinkingConfig("enabled", 2048)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools.0.type"),
        (
            {
                "input": "hi",
                "tools": [
                    {"type": "namespace", "name": "n", "tools": [{"type": "code_interpreter"}]}
                ],
            },
            "tools.0.tools.0.type",
        ),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input.0.type"),
        ({"input": ["hi", {"role": "user"}]}, "input.0"),
        ({"input": [{"role": "user", "content": "a"}, {"role": "user"}]}, "input.1.content"),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input.0.call_id"),
        ({"input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"input": "hi", "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
        ({"input": "hi", "text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
        ({"input": "hi", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input.0.content.0.image_url",
        ),
    ],
)
def test_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode({"model": "m", **body})
    assert caught.value.param == param


ECHO = Echo(id="resp_1", created_at=1, model="m", namespaces={"g": "ns"})


def test_response_object() -> None:
    resp = ir.Response(
        (ir.Thinking("hmm", "sig"), ir.Text("a"), ir.Text("b"), ir.ToolUse("c1", "g", {"x": 1})),
        "max_tokens",
        ir.Usage(input_tokens=5, output_tokens=7, cache_read_tokens=3),
    )
    body, dropped = encode_response(resp, ECHO)
    assert dropped == []
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [o["type"] for o in body["output"]] == ["reasoning", "message", "function_call"]
    assert body["output"][0]["encrypted_content"] == "sig"
    assert body["output"][1]["content"][0]["text"] == "ab"
    assert body["output"][2]["namespace"] == "ns"
    assert body["output"][2]["arguments"] == '{"x":1}'
    assert body["usage"]["input_tokens"] == 8
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 3
    assert body["usage"]["total_tokens"] == 15


def _stream(
    blocks: list[tuple[ir.Text | ir.Thinking | ir.ToolUse, list[str]]],
    reason: ir.StopReason = "end_turn",
) -> list[ir.Event]:
    events: list[ir.Event] = [ir.MessageStart(ir.Usage(input_tokens=3))]
    for i, (block, pieces) in enumerate(blocks):
        events.append(ir.BlockStart(i, block))
        for p in pieces:
            match block:
                case ir.Text():
                    events.append(ir.TextDelta(i, p))
                case ir.Thinking():
                    events.append(ir.ThinkingDelta(i, p))
                case ir.ToolUse():
                    events.append(ir.InputJsonDelta(i, p))
        if isinstance(block, ir.Thinking):
            events.append(ir.SignatureDelta(i, "sig"))
        events.append(ir.BlockStop(i))
    events += [ir.MessageDelta(reason, ir.Usage(input_tokens=3, output_tokens=4)), ir.MessageStop()]
    return events


STREAMS = {
    "text": _stream([(ir.Text(""), ["Hel", "lo"])]),
    "empty text": _stream([(ir.Text(""), [])]),
    "thinking, text, tools": _stream(
        [
            (ir.Thinking(""), ["a", "b"]),
            (ir.Text(""), ["x"]),
            (ir.ToolUse("c1", "f", {}), ['{"a"', ": 1}"]),
            (ir.ToolUse("c2", "g", {}), []),
        ],
        "tool_use",
    ),
    "cut": _stream([(ir.Text(""), ["partial"])], "max_tokens"),
}


@pytest.mark.parametrize("events", STREAMS.values(), ids=STREAMS.keys())
def test_streams_pass_the_grammar(events: list[ir.Event]) -> None:
    encoder = StreamEncoder(ECHO)
    raw = b"".join(encoder.encode(e) for e in events[:-1])
    # What storage keeps, built before the last event is sent: the object that event carries.
    stored = orjson.loads(orjson.dumps(encoder.final()))
    payloads = validate_responses_stream(raw + encoder.encode(events[-1]))
    final = payloads[-1]["response"]
    assert final["output"] == encoder.output
    assert final == stored
    assert encoder.finished


def test_a_failed_stream_ends_with_response_failed() -> None:
    encoder = StreamEncoder(ECHO)
    events = STREAMS["text"][:3]
    raw = b"".join(encoder.encode(e) for e in events) + encoder.failed("server_error", "boom")
    payloads = validate_responses_stream(raw)  # a failure may leave its item open
    assert payloads[-1]["type"] == "response.failed"
    assert payloads[-1]["response"]["error"] == {"code": "server_error", "message": "boom"}
    assert not encoder.finished


def _frames(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )


def _good() -> list[dict[str, Any]]:
    encoder = StreamEncoder(ECHO)
    raw = b"".join(encoder.encode(e) for e in STREAMS["thinking, text, tools"])
    return validate_responses_stream(raw)


def _renumber(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "sequence_number": i} for i, e in enumerate(events)]


MUTATIONS = {
    "sequence gap": lambda ev: [
        *ev[:3],
        *[{**e, "sequence_number": e["sequence_number"] + 1} for e in ev[3:]],
    ],
    "no in_progress": lambda ev: _renumber([ev[0], *ev[2:]]),
    "text done differs": lambda ev: _renumber(
        [{**e, "text": "other"} if e["type"] == "response.output_text.done" else e for e in ev]
    ),
    "item done missing": lambda ev: _renumber(
        [e for i, e in enumerate(ev) if not (e["type"] == "response.output_item.done" and i < 10)]
    ),
    "no terminal event": lambda ev: ev[:-1],
    "item left open": lambda ev: _renumber(
        [e for i, e in enumerate(ev) if not (e["type"] == "response.output_item.done" and i > 10)]
    ),
    "delta after done": lambda ev: _renumber(
        [
            *ev[:-2],
            {**next(e for e in ev if e["type"] == "response.function_call_arguments.delta")},
            *ev[-2:],
        ]
    ),
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_the_validator_refuses_broken_streams(mutate: Any) -> None:
    with pytest.raises(StreamGrammarError):
        validate_responses_stream(_frames(mutate(_good())))
