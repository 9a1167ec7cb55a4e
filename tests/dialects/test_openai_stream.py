"""OpenAI chunks -> Anthropic events: the block state machine, by cases and by property."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import ir
from switchboard.dialects.anthropic.errors import error_event
from switchboard.dialects.anthropic.stream import StreamEncoder
from switchboard.dialects.openai_chat.stream import StreamDecoder
from switchboard.errors import UpstreamError
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    choice.update(extra.pop("choice", {}))
    return orjson.dumps({"object": "chat.completion.chunk", "choices": [choice], **extra})


def usage_chunk(prompt: int = 12, completion: int = 4, cached: int = 0) -> bytes:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return orjson.dumps({"choices": [], "usage": usage})


def run(chunks: list[bytes], names: dict[str, str] | None = None) -> bytes:
    """Decode and encode like the gateway does; an upstream failure ends in `event: error`."""
    decoder = StreamDecoder(provider="up", input_estimate=10, tool_names=names or {})
    encoder = StreamEncoder(model="client-model", message_id="msg_01test")
    out: list[ir.Event] = []
    try:
        for c in chunks:
            out.extend(decoder.feed(c))
        out.extend(decoder.finish())
    except UpstreamError as exc:
        return b"".join(encoder.encode(e) for e in out) + error_event(exc, "req_1")
    return b"".join(encoder.encode(e) for e in out)


def test_text_stream_with_usage() -> None:
    raw = run(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk(finish="stop"),
            usage_chunk(12, 4, cached=2),
        ]
    )
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert msg["content"] == [{"type": "text", "text": "Hello"}]
    assert msg["stop_reason"] == "end_turn"
    assert msg["model"] == "client-model"
    assert msg["usage"]["input_tokens"] == 10
    assert msg["usage"]["output_tokens"] == 4
    assert msg["usage"]["cache_read_input_tokens"] == 2


def test_moonshot_usage_inside_the_choice() -> None:
    raw = run(
        [
            chunk({"content": "x"}),
            chunk(
                finish="stop",
                choice={"usage": {"prompt_tokens": 7, "completion_tokens": 1}},
            ),
        ]
    )
    assert accumulate_message(raw)["usage"]["output_tokens"] == 1
    assert accumulate_message(raw)["usage"]["input_tokens"] == 7


def test_interleaved_tool_calls_become_sequential_blocks() -> None:
    def call(index: int, **fn: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": index, "function": fn}
        if "name" in fn:
            entry |= {"id": f"call_{index}", "type": "function"}
        return {"tool_calls": [entry]}

    raw = run(
        [
            chunk({"content": "Checking both."}),
            chunk(call(0, name="get_weather", arguments="")),
            chunk(call(1, name="get_weather", arguments="")),
            chunk(call(0, arguments='{"city":')),
            chunk(call(1, arguments='{"city":"Rome"}')),
            chunk(call(0, arguments='"Paris"}')),
            chunk(finish="tool_calls"),
            usage_chunk(),
        ]
    )
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert [b["type"] for b in msg["content"]] == ["text", "tool_use", "tool_use"]
    assert msg["content"][0]["text"] == "Checking both."
    assert msg["content"][1]["input"] == {"city": "Paris"}
    assert msg["content"][1]["id"] == "call_0"
    assert msg["content"][2]["input"] == {"city": "Rome"}
    assert msg["stop_reason"] == "tool_use"


def test_kimi_ids_truncated_arguments_and_mapped_names() -> None:
    raw = run(
        [
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "functions.Bash:0",
                            "function": {"name": "Bash_x", "arguments": '{"cmd": "ls'},
                        }
                    ]
                }
            ),
            chunk(finish="stop"),
        ],
        names={"Bash_x": "Bash.x"},
    )
    msg = accumulate_message(raw)
    block = msg["content"][0]
    assert block["name"] == "Bash.x"
    assert block["input"] == {"cmd": "ls"}
    assert block["id"].startswith("toolu_sb_")
    assert msg["stop_reason"] == "tool_use"


def test_reasoning_then_text() -> None:
    raw = run(
        [
            chunk({"reasoning_content": "Let me think"}),
            chunk({"reasoning": " more"}),
            chunk({"content": "Answer"}),
            chunk(finish="length"),
        ]
    )
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert msg["content"][0]["type"] == "thinking"
    assert msg["content"][0]["thinking"] == "Let me think more"
    assert msg["content"][1] == {"type": "text", "text": "Answer"}
    assert msg["stop_reason"] == "max_tokens"


def test_vllm_stop_string_is_the_stop_sequence() -> None:
    raw = run([chunk({"content": "a"}), chunk(finish="stop", choice={"stop_reason": "###"})])
    msg = accumulate_message(raw)
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "###")


@pytest.mark.parametrize(
    "chunks",
    [
        [chunk({"content": "cut"})],  # ends before a finish reason
        [],  # no chunk at all
        [chunk({"content": "a"}), orjson.dumps({"error": {"message": "boom", "code": 500}})],
        [chunk({"content": "a"}), b"{not json"],
    ],
)
def test_failures_end_in_an_error_event(chunks: list[bytes]) -> None:
    raw = run(chunks)
    assert b"event: error" in raw
    if chunks:
        validate_anthropic_stream(raw)


# Any chunk sequence an upstream might send yields a well-formed event sequence.

_tool_piece = st.fixed_dictionaries(
    {"index": st.integers(0, 3)},
    optional={
        "id": st.sampled_from(["call_a", "functions.x:1", ""]),
        "function": st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["f", "g", ""]),
                "arguments": st.sampled_from(["", "{", '"a"', ":1", "}", '{"k": 2}', "]"]),
            },
        ),
    },
)
_delta = st.fixed_dictionaries(
    {},
    optional={
        "content": st.text(max_size=5),
        "reasoning_content": st.text(max_size=5),
        "tool_calls": st.lists(_tool_piece, max_size=2),
    },
)
_chunk = st.one_of(
    _delta.map(lambda d: chunk(d)),
    st.sampled_from(["stop", "length", "tool_calls", "abort"]).map(lambda f: chunk(finish=f)),
    st.integers(0, 50).map(lambda n: usage_chunk(n + 5, n)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_chunk, max_size=25))
def test_any_chunk_sequence_yields_a_valid_stream(chunks: list[bytes]) -> None:
    raw = run(chunks)
    if not chunks:
        assert raw.startswith(b"event: error")
        return
    validate_anthropic_stream(raw)
