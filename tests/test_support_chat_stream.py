"""The chat-completion stream checker rejects what clients would choke on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.chat_stream import validate_chat_stream
from tests.support.stream_validator import StreamGrammarError


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **over: Any) -> str:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **over,
    }
    return f"data: {json.dumps(body)}\n\n"


USAGE = chunk(choices=[], usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
CALL = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
MORE = {"index": 0, "function": {"arguments": "{}"}}
DONE = "data: [DONE]\n\n"
TWO = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}


def stream(*events: str) -> bytes:
    return "".join(events).encode()


def test_a_well_formed_stream_passes() -> None:
    chunks = validate_chat_stream(
        stream(
            chunk({"role": "assistant", "content": ""}),
            ": switchboard-dropped top_k\n\n",
            chunk({"content": "hi"}),
            chunk({"tool_calls": [CALL]}),
            chunk({"tool_calls": [MORE]}),
            chunk({}, "tool_calls"),
            USAGE,
            DONE,
        )
    )
    assert len(chunks) == 6


def test_an_error_event_ends_a_broken_stream() -> None:
    error = 'data: {"error": {"message": "upstream went away", "type": "api_error"}}\n\n'
    validate_chat_stream(stream(chunk({"content": "Hel"}), error))


@pytest.mark.parametrize(
    ("events", "rule"),
    [
        ((chunk({}, "stop"), chunk({}, "stop"), DONE), "finished twice"),
        ((chunk({}, "stop"), chunk({"content": "more"}), DONE), "after its finish_reason"),
        ((chunk({"tool_calls": [MORE]}), DONE), "without an id"),
        ((chunk({"content": "x"}), chunk({}, "stop", id="chatcmpl-2"), DONE), "changed"),
        (
            (
                chunk({}, "stop"),
                chunk(usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
                DONE,
            ),
            "alone",
        ),
        ((chunk({}, "stop"), DONE, chunk({})), "after the stream's end"),
        ((chunk({}, "finished"), DONE), "finish_reason 'finished'"),
        ((chunk({"content": "x"}), DONE), "without a finish_reason"),
        (("event: delta\n" + chunk({}, "stop"), DONE), "names no events"),
    ],
)
def test_broken_streams_are_named(events: tuple[str, ...], rule: str) -> None:
    with pytest.raises(StreamGrammarError, match=rule):
        validate_chat_stream(stream(*events))
