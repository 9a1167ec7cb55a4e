"""Anthropic request bytes -> IR: what is accepted, what is merged, and how errors name fields."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchboard import ir
from switchboard.dialects.anthropic.request import decode_head, decode_request
from switchboard.errors import InvalidRequest


def body(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "model": "m",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


def test_string_and_block_content_decode_to_text() -> None:
    req = decode_request(
        body(
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
            ]
        )
    )
    assert req.messages == (
        ir.Message("user", (ir.Text("a"),)),
        ir.Message("assistant", (ir.Text("b"),)),
    )


def test_system_as_string_or_blocks() -> None:
    assert decode_request(body(system="be brief")).system == (ir.Text("be brief"),)
    blocks = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert decode_request(body(system=blocks)).system == (ir.Text("one"), ir.Text("two"))


def test_consecutive_same_role_turns_are_merged() -> None:
    req = decode_request(
        body(
            messages=[
                {"role": "user", "content": "a"},
                {"role": "user", "content": [{"type": "text", "text": "b"}]},
                {"role": "assistant", "content": "c"},
            ]
        )
    )
    assert [m.role for m in req.messages] == ["user", "assistant"]
    assert req.messages[0].content == (ir.Text("a"), ir.Text("b"))


def test_system_turns_inside_messages_are_kept_in_place() -> None:
    req = decode_request(
        body(
            messages=[
                {"role": "user", "content": "a"},
                {"role": "system", "content": "now answer in French"},
                {"role": "user", "content": "b"},
            ]
        )
    )
    assert [m.role for m in req.messages] == ["user", "system", "user"]


def test_unknown_fields_are_ignored_and_optional_fields_read() -> None:
    req = decode_request(
        body(
            brand_new_field={"x": 1},
            stop_sequences=["END"],
            temperature=0.2,
            top_p=0.9,
            top_k=5,
            metadata={"user_id": "u-1"},
            stream=True,
            context_management={"edits": []},
        )
    )
    assert req.stop_sequences == ("END",)
    assert (req.temperature, req.top_p, req.top_k, req.user_id, req.stream) == (
        0.2,
        0.9,
        5,
        "u-1",
        True,
    )


def test_cache_control_and_citations_are_reported_not_silently_dropped() -> None:
    req = decode_request(
        body(
            system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "q", "citations": [{"type": "char_location"}]}
                    ],
                }
            ],
        )
    )
    assert "cache_control" in req.dropped
    assert "citations" in req.dropped


def test_head_reads_model_and_stream_only() -> None:
    head = decode_head(b'{"model":"claude-x","stream":true,"messages":"not checked here"}')
    assert (head.model, head.stream) == ("claude-x", True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"model":"m","messages":[{"role":"user","content":"x"}]}', "max_tokens: Field required"),
        (
            b'{"model":"m","max_tokens":"ten","messages":[]}',
            "max_tokens: Expected `int`, got `str`",
        ),
        (b'{"model":"m","max_tokens":-1,"messages":[]}', "max_tokens: Expected `int` >= 0"),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"content":"x"}]}',
            "messages.0.role: Field required",
        ),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"nope"}]}]}',
            "messages.0.content.0.type: 'nope' is not a known block type",
        ),
        (b'{"model":"m","max_tokens":1,"messages":[]}', "messages: at least one message"),
        (b"{not json", "The request body is not valid JSON"),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],'
            b'"stop_sequences":["  "]}',
            "stop_sequences.0: each stop sequence must contain non-whitespace",
        ),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],'
            b'"tool_choice":{"type":"tool"}}',
            "tool_choice.name: Field required",
        ),
    ],
)
def test_errors_name_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_request(raw)
    assert caught.value.message.startswith(message), caught.value.message
    assert caught.value.status == 400


def test_missing_model_is_named_by_the_head_decoder() -> None:
    with pytest.raises(InvalidRequest, match=r"^model: Field required"):
        decode_head(b'{"max_tokens":1}')


def test_tool_blocks_and_images_decode() -> None:
    req = decode_request(
        body(
            messages=[
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "checking"},
                        {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"c": "P"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "is_error": True,
                            "content": [
                                {"type": "text", "text": "boom"},
                                {
                                    "type": "image",
                                    "source": {"type": "url", "url": "https://x/a.png"},
                                },
                            ],
                        }
                    ],
                },
            ]
        )
    )
    assert req.messages[1].content[1] == ir.ToolUse("toolu_1", "w", {"c": "P"})
    result = req.messages[2].content[0]
    assert result == ir.ToolResult(
        "toolu_1", (ir.Text("boom"), ir.Image(url="https://x/a.png")), is_error=True
    )
