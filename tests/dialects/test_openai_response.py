"""OpenAI completion -> IR response: stop reasons, usage, reasoning and tool calls."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchboard import ir
from switchboard.dialects.openai_chat.response import decode_response, repair_arguments


def completion(message: dict[str, Any], finish: str | None = "stop", **choice: Any) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, **choice}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }
    )


@pytest.mark.parametrize(
    ("finish", "extra", "reason", "sequence"),
    [
        ("stop", {}, "end_turn", None),
        ("stop", {"stop_reason": "END"}, "stop_sequence", "END"),  # vLLM
        ("stop", {"matched_stop": "###"}, "stop_sequence", "###"),  # SGLang
        ("stop", {"stop_reason": 151645}, "end_turn", None),  # a stop token id
        ("length", {}, "max_tokens", None),
        ("content_filter", {}, "refusal", None),
        ("tool_calls", {}, "tool_use", None),
        ("abort", {}, "end_turn", None),
        (None, {}, "end_turn", None),
    ],
)
def test_stop_reasons(
    finish: str | None, extra: dict[str, Any], reason: str, sequence: str | None
) -> None:
    resp, notes = decode_response(completion({"content": "x"}, finish, **extra), {})
    assert (resp.stop_reason, resp.stop_sequence) == (reason, sequence)
    assert bool(notes) == (finish == "abort")


def test_usage_subtracts_cached_tokens() -> None:
    body = orjson.loads(completion({"content": "x"}))
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 15}
    resp, _ = decode_response(orjson.dumps(body), {})
    assert resp.usage == ir.Usage(input_tokens=5, output_tokens=5, cache_read_tokens=15)
    body["usage"] = {"prompt_tokens": 30, "completion_tokens": 2, "prompt_cache_hit_tokens": 10}
    resp, _ = decode_response(orjson.dumps(body), {})
    assert resp.usage == ir.Usage(input_tokens=20, output_tokens=2, cache_read_tokens=10)


def test_reasoning_text_and_tool_calls_in_order() -> None:
    message = {
        "reasoning_content": "think",
        "content": "Calling.",
        "tool_calls": [
            {
                "id": "functions.get_weather:0",
                "type": "function",
                "function": {"name": "gw", "arguments": '{"city": "Paris"'},
            }
        ],
    }
    resp, notes = decode_response(completion(message, "stop"), {"gw": "get.weather"})
    thinking, text, call = resp.content
    assert thinking == ir.Thinking("think")
    assert text == ir.Text("Calling.")
    assert isinstance(call, ir.ToolUse)
    assert call.name == "get.weather"
    assert call.input == {"city": "Paris"}
    assert call.id.startswith("toolu_sb_")
    assert resp.stop_reason == "tool_use"  # derived from the calls even though finish says stop
    assert notes == ["tool call get.weather: arguments repaired"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("", {})),
        ('{"a": 1}', ("", {"a": 1})),
        ('{"a": "b', ('"}', {"a": "b"})),
        ('{"a": [1, {"b": 2', ("}]}", {"a": [1, {"b": 2}]})),
        ("[1]", None),
        ('{"a": 1}}', None),
        ("not json", None),
    ],
)
def test_repair_arguments(text: str, expected: tuple[str, dict[str, Any]] | None) -> None:
    assert repair_arguments(text) == expected
