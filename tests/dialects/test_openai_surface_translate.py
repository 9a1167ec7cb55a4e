"""Table tests for the pure translation functions of the OpenAI surface: client requests -> IR,
IR -> chat completions, IR -> Anthropic requests, Anthropic replies and streams -> IR, and the
OpenAI pass-through relay."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard import ir
from switchboard.dialects.anthropic.response import decode_response
from switchboard.dialects.anthropic.stream import StreamDecoder
from switchboard.dialects.anthropic.upstream_request import UpstreamProfile, encode_request
from switchboard.dialects.openai_chat.errors import error_body, error_event
from switchboard.dialects.openai_chat.passthrough import StreamRelay, rewrite_request
from switchboard.dialects.openai_chat.request import DEFAULT_MAX_TOKENS, decode_request
from switchboard.dialects.openai_chat.response import encode_response, finish_reason
from switchboard.dialects.sse import SSEDecoder
from switchboard.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTooLarge,
    UpstreamError,
)


def decode(**fields: Any) -> ir.Request:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return decode_request(json.dumps(body).encode())


PROFILE = UpstreamProfile(model_id="claude-test", upstream_model="up", max_output_tokens=8000)


def to_anthropic(
    req: ir.Request, profile: UpstreamProfile = PROFILE
) -> tuple[dict[str, Any], list[str]]:
    out = encode_request(req, profile)
    return out.body, out.dropped


# OpenAI client request -> IR


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({}, lambda r: r.max_tokens == DEFAULT_MAX_TOKENS and r.thinking is None),
        ({"max_tokens": 7}, lambda r: r.max_tokens == 7),
        ({"max_tokens": 7, "max_completion_tokens": 9}, lambda r: r.max_tokens == 9),
        ({"stop": "END"}, lambda r: r.stop_sequences == ("END",)),
        ({"stop": ["a", "b"]}, lambda r: r.stop_sequences == ("a", "b")),
        ({"temperature": None, "top_p": None}, lambda r: r.temperature is None),
        ({"temperature": 0.2, "top_p": 0.9}, lambda r: (r.temperature, r.top_p) == (0.2, 0.9)),
        ({"user": "u1"}, lambda r: r.user_id == "u1"),
        ({"reasoning_effort": "none"}, lambda r: r.thinking == ir.ThinkingConfig("disabled")),
        (
            {"reasoning_effort": "medium"},
            lambda r: (
                r.thinking == ir.ThinkingConfig("enabled", 8192)
                and r.max_tokens == DEFAULT_MAX_TOKENS + 8192
            ),
        ),
        ({"response_format": {"type": "text"}}, lambda r: r.response_format is None),
        (
            {"response_format": {"type": "json_object"}},
            lambda r: r.response_format == ir.ResponseFormat("json_object"),
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "n", "schema": {}},
                }
            },
            lambda r: r.response_format == ir.ResponseFormat("json_schema", {}, "n"),
        ),
        ({"seed": 3, "logprobs": None}, lambda r: r.dropped == ("seed",)),
        ({"n": 1, "stream": True}, lambda r: r.stream and r.dropped == ()),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"},
            lambda r: (
                r.tools == (ir.Tool("f", None, {"type": "object", "properties": {}}),)
                and r.tool_choice == ir.ToolChoice("any")
            ),
        ),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "parallel_tool_calls": False,
            },
            lambda r: r.tool_choice == ir.ToolChoice("auto", disable_parallel_tool_use=True),
        ),
        (
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
            lambda r: r.tool_choice == ir.ToolChoice("tool", "f"),
        ),
    ],
)
def test_decode_fields(fields: dict[str, Any], check: Any) -> None:
    assert check(decode(**fields))


def test_decode_messages() -> None:
    req = decode(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "No jokes."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "hmm",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x":1}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{bad"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": "two"},
            {"role": "user", "content": "thanks"},
            {"role": "system", "content": "Later rule."},
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "file_data": "data:application/pdf;base64,UERG",
                            "filename": "a.pdf",
                        },
                    }
                ],
            },
        ]
    )
    assert req.system == (ir.Text("Be brief."), ir.Text("No jokes."))
    assert req.messages == (
        ir.Message("user", (ir.Text("Look"), ir.Image(media_type="image/jpeg", data="QUJD"))),
        ir.Message(
            "assistant",
            (
                ir.Thinking("hmm"),
                ir.ToolUse("c1", "f", {"x": 1}),
                ir.ToolUse("c2", "f", {"_unparsed_arguments": "{bad"}),
            ),
        ),
        ir.Message(
            "user",
            (
                ir.ToolResult("c1", (ir.Text("one"),)),
                ir.ToolResult("c2", (ir.Text("two"),)),
                ir.Text("thanks"),
            ),
        ),
        ir.Message("system", (ir.Text("Later rule."),)),
        ir.Message("user", (ir.Document(media_type="application/pdf", data="UERG", title="a"),)),
    )
    assert any("arguments are not a JSON object" in d for d in req.dropped)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "only"}]}, "messages"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools.0.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema.schema"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"messages": [{"role": "user"}]}, "messages.0.content"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}
                ]
            },
            "messages.0.content.0",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}
                ]
            },
            "messages.0.content.0.file",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png,raw"}}
                        ],
                    }
                ]
            },
            "messages.0.content.0.image_url.url",
        ),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x"}}],
                    },
                    {"role": "user", "content": "x"},
                ]
            },
            "messages.0.content",
        ),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages.0.role"),
    ],
)
def test_decode_refuses_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode(**fields)
    assert info.value.param == param


def test_decode_not_json() -> None:
    with pytest.raises(InvalidRequest, match="not valid JSON"):
        decode_request(b"{")


# IR response -> chat completion


@pytest.mark.parametrize(
    ("reason", "tools", "finish"),
    [
        ("end_turn", False, "stop"),
        ("stop_sequence", False, "stop"),
        ("max_tokens", False, "length"),
        ("model_context_window_exceeded", False, "length"),
        ("tool_use", True, "tool_calls"),
        ("end_turn", True, "tool_calls"),
        ("max_tokens", True, "length"),
        ("refusal", False, "content_filter"),
        ("pause_turn", False, "stop"),
    ],
)
def test_finish_reason(reason: ir.StopReason, tools: bool, finish: str) -> None:
    assert finish_reason(reason, tools) == finish


def test_encode_response() -> None:
    resp = ir.Response(
        (
            ir.Thinking("why", "sig"),
            ir.Text("Hi "),
            ir.Text("there"),
            ir.ToolUse("toolu_1", "f", {"a": 1}),
            ir.RedactedThinking("x"),
        ),
        "tool_use",
        ir.Usage(input_tokens=5, output_tokens=7, cache_read_tokens=3, cache_write_tokens=2),
    )
    body, dropped = encode_response(
        resp, model="claude-test", completion_id="chatcmpl-1", created=9
    )
    data = json.loads(body)
    assert data["object"] == "chat.completion"
    assert (data["id"], data["model"], data["created"]) == ("chatcmpl-1", "claude-test", 9)
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Hi there",
        "refusal": None,
        "reasoning_content": "why",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
        ],
    }
    assert data["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    assert dropped == ["redacted_thinking"]


def test_encode_response_tool_only_has_null_content() -> None:
    resp = ir.Response((ir.ToolUse("t", "f", {}),), "tool_use", ir.Usage())
    body, _ = encode_response(resp, model="m", completion_id="c", created=0)
    assert json.loads(body)["choices"][0]["message"]["content"] is None


# Errors


@pytest.mark.parametrize(
    ("error", "status", "kind", "code", "param"),
    [
        (
            InvalidRequest("messages.0: bad", param="messages.0"),
            400,
            "invalid_request_error",
            None,
            "messages.0",
        ),
        (
            NotFound("model: x", param="model"),
            404,
            "invalid_request_error",
            "model_not_found",
            "model",
        ),
        (NotFound("no route"), 404, "invalid_request_error", "not_found", None),
        (RateLimited("slow", retry_after=3), 429, "requests", "rate_limit_exceeded", None),
        (RequestTooLarge("too big"), 413, "invalid_request_error", "request_too_large", None),
        (PermissionDenied("no"), 403, "invalid_request_error", "permission_denied", None),
        (AuthenticationFailed("bad key"), 401, "invalid_request_error", "invalid_api_key", None),
        (UpstreamError.unreachable("p", "refused"), 502, "server_error", None, None),
        (UpstreamError.timed_out("p", "idle"), 504, "server_error", "timeout", None),
    ],
)
def test_error_envelope(
    error: Any, status: int, kind: str, code: str | None, param: str | None
) -> None:
    assert error.status == status
    body = json.loads(error_body(error, "req_1"))
    assert body == {"error": {"message": error.message, "type": kind, "param": param, "code": code}}
    frame = error_event(error, "req_1")
    assert frame.startswith(b"data: {")
    assert frame.endswith(b"\n\n")
    assert b"event:" not in frame


# IR request -> Anthropic request


def request(**fields: Any) -> ir.Request:
    base: dict[str, Any] = {
        "model": "claude-test",
        "messages": (ir.Message("user", (ir.Text("hi"),)),),
        "max_tokens": 100,
    }
    return ir.Request(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "expect", "dropped"),
    [
        (
            {},
            {"model": "up", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
            [],
        ),
        ({"max_tokens": 9000}, {"max_tokens": 8000}, ["max_tokens clamped from 9000 to 8000"]),
        ({"system": (ir.Text("a"),)}, {"system": "a"}, []),
        (
            {"system": (ir.Text("a"), ir.Text("b"))},
            {"system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            [],
        ),
        ({"temperature": 1.5}, {"temperature": 1.0}, ["temperature clamped from 1.5 to 1.0"]),
        (
            {"stop_sequences": ("X", " ")},
            {"stop_sequences": ["X"]},
            ["whitespace-only stop sequences"],
        ),
        ({"user_id": "u"}, {"metadata": {"user_id": "u"}}, []),
        (
            {"thinking": ir.ThinkingConfig("enabled", 2048), "max_tokens": 5000},
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            [],
        ),
        (
            {"thinking": ir.ThinkingConfig("enabled", 8192), "max_tokens": 5000},
            {"thinking": {"type": "enabled", "budget_tokens": 4999}},
            [],
        ),
        (
            {
                "thinking": ir.ThinkingConfig("enabled", 8192),
                "temperature": 0.3,
                "max_tokens": 5000,
            },
            {"thinking": {"type": "enabled", "budget_tokens": 4999}},
            ["temperature (with thinking)"],
        ),
        ({"thinking": ir.ThinkingConfig("disabled")}, {"thinking": {"type": "disabled"}}, []),
        (
            {"response_format": ir.ResponseFormat("json_schema", {"type": "object"}, "x")},
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
            [],
        ),
        (
            {"response_format": ir.ResponseFormat("json_object")},
            {},
            ["response_format json_object"],
        ),
        (
            {"tool_choice": ir.ToolChoice("any", disable_parallel_tool_use=True)},
            {"tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
            [],
        ),
        (
            {"tool_choice": ir.ToolChoice("tool", "f")},
            {"tool_choice": {"type": "tool", "name": "f"}},
            [],
        ),
        ({"stream": True}, {"stream": True}, []),
        ({"dropped": ("seed",)}, {}, ["seed"]),
    ],
)
def test_encode_anthropic(
    fields: dict[str, Any], expect: dict[str, Any], dropped: list[str]
) -> None:
    body, lost = to_anthropic(request(**fields))
    assert {k: body.get(k) for k in expect} == expect
    assert lost == dropped
    if "temperature" in "".join(lost) and "thinking" in body:
        assert "temperature" not in body


def test_encode_anthropic_thinking_without_room_is_dropped() -> None:
    body, lost = to_anthropic(request(thinking=ir.ThinkingConfig("enabled", 2048), max_tokens=500))
    assert "thinking" not in body
    assert lost == ["thinking (max_tokens 500 leaves no room for it)"]


def test_encode_anthropic_blocks() -> None:
    messages = (
        ir.Message("user", (ir.Text("look"), ir.Image(media_type="image/png", data="AA"))),
        ir.Message(
            "assistant",
            (
                ir.Thinking("unsigned"),
                ir.Thinking("signed", "sig"),
                ir.ToolUse("functions.f:0", "f", {}),
            ),
        ),
        ir.Message(
            "user",
            (ir.ToolResult("functions.f:0", (ir.Text("out"), ir.Image(url="https://i")), True),),
        ),
        ir.Message("system", (ir.Text("rule"),)),
    )
    body, lost = to_anthropic(request(messages=messages))
    safe = body["messages"][1]["content"][1]["id"]
    assert safe.startswith("toolu_sb_")
    assert "." not in safe
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "AA"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "signed", "signature": "sig"},
                {"type": "tool_use", "id": safe, "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": safe,
                    "content": [
                        {"type": "text", "text": "out"},
                        {"type": "image", "source": {"type": "url", "url": "https://i"}},
                    ],
                    "is_error": True,
                }
            ],
        },
        {"role": "user", "content": "rule"},
    ]
    assert lost == [
        "thinking without a signature",
        "mid-conversation system message sent as user text",
    ]


def test_encode_anthropic_refuses_images_for_text_models() -> None:
    profile = UpstreamProfile(model_id="text-only", upstream_model="up", vision=False)
    req = request(messages=(ir.Message("user", (ir.Image(url="https://i"),)),))
    with pytest.raises(InvalidRequest) as info:
        encode_request(req, profile)
    assert info.value.param == "messages.0.content.0"


# Anthropic Message and stream -> IR


def test_decode_anthropic_response() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "text", "text": "hi", "citations": [{"type": "char_location"}]},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 5},
    }
    resp, notes = decode_response(json.dumps(body).encode())
    assert resp == ir.Response(
        (ir.Thinking("t", "s"), ir.Text("hi"), ir.ToolUse("toolu_1", "f", {"a": 1})),
        "tool_use",
        ir.Usage(input_tokens=3, output_tokens=4, cache_read_tokens=5),
    )
    assert notes == ["citations", "server_tool_use block"]


def test_decode_anthropic_unknown_stop_reason() -> None:
    resp, notes = decode_response(b'{"content": [], "stop_reason": "compaction"}')
    assert resp.stop_reason == "end_turn"
    assert notes == ["unknown stop_reason 'compaction' mapped to end_turn"]


def events(*items: dict[str, Any]) -> list[bytes]:
    return [json.dumps(i).encode() for i in items]


def test_decode_anthropic_stream_renumbers_skipped_blocks() -> None:
    decoder = StreamDecoder(provider="p")
    out: list[ir.Event] = []
    for data in events(
        {"type": "ping"},
        {"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "server_tool_use",
                "id": "s",
                "name": "web_search",
                "input": {},
            },
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "a"}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "citations_delta", "citation": {}},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
        {"type": "content_block_stop", "index": 2},
        {"type": "brand_new_event"},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 6},
        },
        {"type": "message_stop"},
    ):
        out.extend(decoder.feed(data))
    usage = ir.Usage(input_tokens=9, output_tokens=6)
    assert out == [
        ir.MessageStart(ir.Usage(input_tokens=9, output_tokens=1)),
        ir.BlockStart(0, ir.Text("")),
        ir.TextDelta(0, "a"),
        ir.BlockStop(0),
        ir.BlockStart(1, ir.ToolUse("t", "f", {})),
        ir.InputJsonDelta(1, "{}"),
        ir.BlockStop(1),
        ir.MessageDelta("tool_use", usage),
        ir.MessageStop(),
    ]
    assert decoder.finished
    assert decoder.usage == usage
    assert decoder.notes == ["server_tool_use block", "citations_delta in a stream"]


@pytest.mark.parametrize(
    ("kind", "status"),
    [("overloaded_error", 529), ("rate_limit_error", 429), ("api_error", 502), ("weird", 502)],
)
def test_decode_anthropic_stream_error(kind: str, status: int) -> None:
    decoder = StreamDecoder(provider="p")
    decoder.feed(b'{"type": "message_start", "message": {}}')
    with pytest.raises(UpstreamError) as info:
        decoder.feed(
            json.dumps({"type": "error", "error": {"type": kind, "message": "m"}}).encode()
        )
    assert info.value.status == status


def test_decode_anthropic_stream_needs_message_start() -> None:
    with pytest.raises(UpstreamError):
        StreamDecoder(provider="p").feed(b'{"type": "content_block_stop", "index": 0}')


# OpenAI pass-through


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ({"model": "a", "messages": []}, {"model": "up", "messages": []}),
        (
            {"model": "a", "stream": True},
            {"model": "up", "stream": True, "stream_options": {"include_usage": True}},
        ),
        (
            {"model": "a", "stream": True, "stream_options": {"include_obfuscation": False}},
            {
                "model": "up",
                "stream": True,
                "stream_options": {"include_obfuscation": False, "include_usage": True},
            },
        ),
    ],
)
def test_passthrough_request(body: dict[str, Any], expect: dict[str, Any]) -> None:
    assert json.loads(rewrite_request(json.dumps(body).encode(), "up")) == expect


UPSTREAM_STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","model":"snap","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null}\n\n'
    b'data:{"id":"c","object":"chat.completion.chunk","model":"snap","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
    b": keep-alive\n\n"
    b'data: {"id":"c","object":"chat.completion.chunk","model":"snap","choices":[],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("forward_usage", [True, False])
def test_passthrough_stream(forward_usage: bool) -> None:
    relay = StreamRelay("gpt-test", forward_usage=forward_usage)
    out = b"".join(relay.relay(e) for e in SSEDecoder().feed(UPSTREAM_STREAM))
    chunks = [json.loads(line[6:]) for line in out.split(b"\n\n") if line.startswith(b"data: {")]
    assert out.endswith(b"data: [DONE]\n\n")
    assert all(c["model"] == "gpt-test" for c in chunks)
    assert relay.finished
    assert relay.done
    assert relay.usage == ir.Usage(input_tokens=10, output_tokens=3, cache_read_tokens=2)
    if forward_usage:
        assert len(chunks) == 3
        assert chunks[-1]["usage"]["prompt_tokens"] == 12
    else:
        assert len(chunks) == 2
        assert all("usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}


@pytest.mark.parametrize(
    ("assistant", "kept"),
    [
        ((ir.Text("plain answer"),), True),
        ((ir.Thinking("why", "sig"), ir.ToolUse("t", "f", {})), True),
        ((ir.RedactedThinking("x"), ir.ToolUse("t", "f", {})), True),
        ((ir.Thinking("why"), ir.ToolUse("t", "f", {})), False),
        ((ir.ToolUse("t", "f", {}),), False),
    ],
)
def test_thinking_needs_a_replayable_tool_turn(assistant: tuple[ir.Block, ...], kept: bool) -> None:
    messages = (
        ir.Message("user", (ir.Text("go"),)),
        ir.Message("assistant", assistant),
        ir.Message("user", (ir.ToolResult("t", (ir.Text("ok"),)),)),
    )
    req = request(messages=messages, thinking=ir.ThinkingConfig("enabled", 2048), max_tokens=5000)
    body, lost = to_anthropic(req)
    assert ("thinking" in body) == kept
    assert any(d.startswith("thinking (the tool-use turn") for d in lost) != kept
