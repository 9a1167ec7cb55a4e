"""The cloud platforms' Messages bodies unwrapped, their model ids mapped, and Bedrock's chunk
framing of an SSE stream cut anywhere."""

from __future__ import annotations

import base64
import json

import pytest

from switchboard.dialects.anthropic.platforms import (
    BEDROCK,
    VERTEX,
    bedrock_model_names,
    unwrap,
    vertex_model_names,
)
from switchboard.dialects.aws_eventstream import EventStreamDecoder
from switchboard.dialects.bedrock_invoke import ChunkFramer
from switchboard.errors import InvalidRequest


def _same(name: str) -> str:
    return name


def test_unwrap_bedrock() -> None:
    body = json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["b1", "b2"], "max_tokens": 5}
    ).encode()
    out = unwrap(BEDROCK, body, model="m", stream=True, name=str.upper, beta_header="b2, b3")
    assert json.loads(out.body) == {"max_tokens": 5, "model": "M", "stream": True}
    assert out.headers == {"anthropic-version": "2023-06-01", "anthropic-beta": "b1,b2,b3"}


def test_unwrap_vertex_count_takes_the_body_model() -> None:
    body = b'{"anthropic_version": "2026-10-21", "model": "claude-x@2025", "messages": []}'
    out = unwrap(VERTEX, body, model=None, stream=None, name=_same)
    assert json.loads(out.body) == {"model": "claude-x@2025", "messages": []}
    assert out.headers == {"anthropic-version": "2026-10-21"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"[]", None),
        (b'{"max_tokens": 1}', "anthropic_version"),
        (b'{"anthropic_version": "vertex-2023-10-16"}', "anthropic_version"),
        (b'{"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": "x"}', "anthropic_beta"),
        (
            b'{"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["a b"]}',
            "anthropic_beta.0",
        ),
    ],
)
def test_unwrap_refuses(body: bytes, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        unwrap(BEDROCK, body, model="m", stream=False, name=_same)
    assert caught.value.param == param


def test_model_id_in_the_url_is_bounded() -> None:
    body = b'{"anthropic_version": "bedrock-2023-05-31"}'
    for bad in ("", "a" * 300, "claude\x00x", "claude x"):
        with pytest.raises(InvalidRequest):
            unwrap(BEDROCK, body, model=bad, stream=False, name=_same)


def test_bedrock_model_names() -> None:
    assert bedrock_model_names("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5-20250929-v1:0",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5",
    )
    assert bedrock_model_names("global.anthropic.claude-opus-5")[-1] == "claude-opus-5"
    assert bedrock_model_names("us.amazon.nova-pro-v1:0")[1] == "amazon.nova-pro-v1:0"


def test_vertex_model_names() -> None:
    assert vertex_model_names("claude-sonnet-4-5@20250929") == (
        "claude-sonnet-4-5@20250929",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5",
    )
    assert vertex_model_names("claude-opus-5") == ("claude-opus-5",)


def test_chunk_framer_across_any_cut() -> None:
    sse = (
        b"".join(
            b"event: " + t.encode() + b"\ndata: " + json.dumps({"type": t}).encode() + b"\n\n"
            for t in ("message_start", "ping", "message_stop")
        )
        + b": switchboard-dropped x\n\n"
    )
    for size in (1, 3, 10, len(sse)):
        framer = ChunkFramer()
        wire = b"".join(framer(sse[i : i + size]) for i in range(0, len(sse), size))
        messages = EventStreamDecoder().feed(wire)
        assert [m.event_type for m in messages] == ["chunk"] * 3
        types = [
            json.loads(base64.b64decode(json.loads(m.payload)["bytes"]))["type"] for m in messages
        ]
        assert types == ["message_start", "ping", "message_stop"]
