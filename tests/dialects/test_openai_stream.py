"""OpenAI chunks -> Anthropic events: the block state machine, by cases and by property."""

from __future__ import annotations

import itertools
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import ir
from switchboard.dialects.anthropic.errors import error_event
from switchboard.dialects.anthropic.stream import StreamEncoder
from switchboard.dialects.openai_chat import stream as stream_module
from switchboard.dialects.openai_chat.response import repair_arguments
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


# Tool arguments streamed in arbitrary pieces: every prefix the client gets closes into an
# object, all of it arrives, and a long argument costs linear work.


def _tool_chunks(pieces: list[str]) -> list[bytes]:
    first = {"index": 0, "id": "call_w", "type": "function"}
    out = [chunk({"tool_calls": [first | {"function": {"name": "Write", "arguments": ""}}]})]
    out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces]
    return [*out, chunk(finish="tool_calls")]


def _cut(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points) if b > a]


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=6), _json_value, max_size=4),
    st.booleans(),
    st.lists(st.integers(0, 10_000), max_size=30),
)
def test_tool_arguments_cut_anywhere_arrive_whole_and_closable(
    args: dict[str, Any], ascii_only: bool, cuts: list[int]
) -> None:
    text = orjson.dumps(args).decode() if not ascii_only else json.dumps(args)  # \\u escapes
    decoder = StreamDecoder(provider="up", input_estimate=10, tool_names={})
    sent = ""
    for c in _tool_chunks(_cut(text, cuts)):
        for event in decoder.feed(c):
            if isinstance(event, ir.InputJsonDelta):
                sent += event.partial_json
                assert repair_arguments(sent) is not None, sent
    assert orjson.loads(sent) == args


def test_a_long_argument_is_not_reread_for_every_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    content = 'def main(argv):\n    print("héllo, wörld", argv)  # \\u00e9\n' * 2000  # ~100 KB
    text = orjson.dumps({"file_path": "/src/app.py", "content": content}).decode()
    calls = 0
    real = stream_module.repair_arguments  # type: ignore[attr-defined]  # patched below

    def counting(candidate: str) -> Any:
        nonlocal calls
        calls += 1
        return real(candidate)

    monkeypatch.setattr(stream_module, "repair_arguments", counting)
    raw = run(_tool_chunks([text[i : i + 7] for i in range(0, len(text), 7)]))
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["content"][0]["input"]["content"] == content
    # Re-reading the prefix happens only where the string starts and ends, not per piece.
    assert calls < 10
