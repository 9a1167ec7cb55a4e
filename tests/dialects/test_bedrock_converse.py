"""The Converse dialect: IR -> Converse body (what is carried, refused, reported), the reply and
the stream back to the IR (every stream through the grammar validator), and the InvokeModel
body rewrite for Claude."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard import ir
from switchboard.dialects.anthropic.errors import error_event
from switchboard.dialects.anthropic.stream import StreamEncoder
from switchboard.dialects.bedrock_converse.errors import exception_status, upstream_error_message
from switchboard.dialects.bedrock_converse.response import decode_response
from switchboard.dialects.bedrock_converse.stream import StreamDecoder
from switchboard.dialects.bedrock_converse.upstream_request import UpstreamProfile, encode_request
from switchboard.errors import InvalidRequest, UpstreamError
from switchboard.upstreams.bedrock import is_anthropic
from switchboard.upstreams.bedrock_anthropic import chunk_event, invoke_body
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

PROFILE = UpstreamProfile(model_id="test/llama", upstream_model="meta.llama", max_output_tokens=100)


def user(*blocks: ir.Block) -> ir.Message:
    return ir.Message("user", blocks)


def test_request_carries_system_sampling_tools_and_history() -> None:
    req = ir.Request(
        model="m",
        max_tokens=500,
        system=(ir.Text("Be brief."),),
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop_sequences=("END",),
        tools=(ir.Tool("f", "does f", {"type": "object"}),),
        tool_choice=ir.ToolChoice("tool", "f"),
        messages=(
            user(ir.Text("hi"), ir.Image("image/png", "aGk=")),
            ir.Message("assistant", (ir.Thinking("hmm", "sig"), ir.ToolUse("t1", "f", {"a": 1}))),
            user(ir.ToolResult("t1", (ir.Text("done"),), is_error=True)),
            user(ir.Text("and?")),
        ),
    )
    out = encode_request(req, PROFILE)
    assert out.body == {
        "inferenceConfig": {
            "maxTokens": 100,
            "temperature": 0.3,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
        "system": [{"text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "hi"},
                    {"image": {"format": "png", "source": {"bytes": "aGk="}}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": "t1",
                            "content": [{"text": "done"}],
                            "status": "error",
                        }
                    },
                    {
                        "text": "and?"
                    },  # consecutive user turns merged: Converse wants them to alternate
                ],
            },
        ],
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "f",
                        "description": "does f",
                        "inputSchema": {"json": {"type": "object"}},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": "f"}},
        },
    }
    assert out.dropped == [
        "max_tokens clamped from 500 to 100",
        "top_k",
        "thinking blocks of earlier turns",
    ]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        (ir.Image(url="https://example.invalid/cat.png"), "messages.0.content.0"),
        (ir.Image("image/bmp", "aGk="), "messages.0.content.0"),
        (ir.Document(data="JVBERi0=", media_type="application/pdf"), "messages.0.content.0"),
    ],
)
def test_what_converse_cannot_take_is_a_named_400(block: ir.Block, field: str) -> None:
    req = ir.Request(model="m", max_tokens=10, messages=(user(block),))
    with pytest.raises(InvalidRequest) as caught:
        encode_request(req, PROFILE)
    assert caught.value.param == field


def test_unsupported_controls_are_reported() -> None:
    req = ir.Request(
        model="m",
        max_tokens=10,
        messages=(user(ir.Text("x")),),
        thinking=ir.ThinkingConfig("enabled", 2048),
        response_format=ir.ResponseFormat("json_object"),
        user_id="u1",
        tools=(ir.Tool("f", None, {"type": "object"}),),
        tool_choice=ir.ToolChoice("none"),
    )
    out = encode_request(req, PROFILE)
    assert "toolConfig" not in out.body  # no "none" in Converse: the tools are left out
    assert out.dropped == [
        "thinking (Converse models' reasoning controls are model-specific)",
        "response_format",
        "metadata.user_id",
    ]


def test_response_maps_blocks_stop_reasons_and_usage() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "think", "signature": "s"}}},
                    {"text": "hi"},
                    {"toolUse": {"toolUseId": "t", "name": "f", "input": {"x": 1}}},
                ],
            }
        },
        "stopReason": "guardrail_intervened",
        "usage": {"inputTokens": 5, "outputTokens": 3, "cacheReadInputTokens": 2},
    }
    resp, notes = decode_response(orjson.dumps(body))
    assert resp.content == (ir.Thinking("think"), ir.Text("hi"), ir.ToolUse("t", "f", {"x": 1}))
    assert resp.stop_reason == "refusal"
    assert resp.usage == ir.Usage(input_tokens=5, output_tokens=3, cache_read_tokens=2)
    assert notes == ["stop reason guardrail_intervened reported as refusal"]


def event(kind: str, **body: Any) -> tuple[str, bytes]:
    return kind, orjson.dumps(body)


def run(events: list[tuple[str, bytes]]) -> bytes:
    decoder = StreamDecoder(provider="bedrock")
    encoder = StreamEncoder(model="client-model", message_id="msg_01test")
    out: list[ir.Event] = []
    try:
        for kind, payload in events:
            out += decoder.feed(kind, payload)
        out += decoder.finish()
    except UpstreamError as exc:
        return b"".join(encoder.encode(e) for e in out) + error_event(exc, "req_1")
    return b"".join(encoder.encode(e) for e in out)


STREAM = [
    event("messageStart", role="assistant"),
    event("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"text": "hm"}}),
    event("contentBlockDelta", contentBlockIndex=0, delta={"reasoningContent": {"signature": "s"}}),
    event("contentBlockStop", contentBlockIndex=0),
    event("contentBlockDelta", contentBlockIndex=1, delta={"text": "Hel"}),
    event("contentBlockDelta", contentBlockIndex=1, delta={"text": "lo"}),
    event("contentBlockStop", contentBlockIndex=1),
    event(
        "contentBlockStart", contentBlockIndex=2, start={"toolUse": {"toolUseId": "t", "name": "f"}}
    ),
    event("contentBlockDelta", contentBlockIndex=2, delta={"toolUse": {"input": '{"a":'}}),
    event("contentBlockDelta", contentBlockIndex=2, delta={"toolUse": {"input": "1}"}}),
    event("contentBlockStop", contentBlockIndex=2),
    event("messageStop", stopReason="tool_use"),
    event("metadata", usage={"inputTokens": 9, "outputTokens": 4}, metrics={"latencyMs": 1}),
]


def test_stream_becomes_a_valid_anthropic_stream() -> None:
    raw = run(STREAM)
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert msg["content"][1]["text"] == "Hello"
    assert msg["content"][2]["input"] == {"a": 1}
    assert msg["stop_reason"] == "tool_use"
    assert msg["usage"]["output_tokens"] == 4


def test_a_stream_without_metadata_still_ends() -> None:
    raw = run(STREAM[:-1])
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["stop_reason"] == "tool_use"


@settings(derandomize=True, max_examples=100)
@given(st.integers(min_value=0, max_value=len(STREAM) - 3))  # before messageStop
def test_a_cut_stream_is_valid_and_ends_in_an_error(cut: int) -> None:
    raw = run(STREAM[: cut + 1])
    validate_anthropic_stream(raw)
    assert raw.rstrip().split(b"\n\n")[-1].startswith(b"event: error")


def test_invoke_body_moves_betas_into_the_body() -> None:
    body = json.dumps(
        {"model": "x", "stream": True, "max_tokens": 5, "anthropic_beta": ["a"], "messages": []}
    ).encode()
    out = json.loads(invoke_body(body, "a, b"))
    assert out == {
        "max_tokens": 5,
        "anthropic_beta": ["a", "b"],
        "messages": [],
        "anthropic_version": "bedrock-2023-05-31",
    }


@pytest.mark.parametrize(
    ("model", "anthropic"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", True),
        ("arn:aws:bedrock:us-east-1:1:inference-profile/global.anthropic.claude-haiku-4-5", True),
        ("meta.llama3-3-70b-instruct-v1:0", False),
        ("us.amazon.nova-pro-v1:0", False),
    ],
)
def test_which_models_speak_messages(model: str, anthropic: bool) -> None:
    assert is_anthropic(model) is anthropic


def test_errors_name_their_status() -> None:
    assert exception_status("ThrottlingException") == 429
    assert exception_status("modelStreamErrorException") == 424
    assert exception_status("ValidationException:http://internal.amazon.com/coral/") == 400
    assert exception_status("SomethingNew") == 500
    assert upstream_error_message(b'{"Message": "denied"}') == "denied"
    assert upstream_error_message(b"<html>") == "<html>"


def test_a_chunk_becomes_one_sse_event_even_when_its_json_spans_lines() -> None:
    data = b'{\n  "type": "ping"\n}'
    payload = orjson.dumps({"bytes": base64.b64encode(data).decode()})
    sse = chunk_event(payload)
    assert sse.event == "ping"
    assert sse.raw == b'event: ping\ndata: {"type":"ping"}\n\n'
