"""IR -> OpenAI chat-completions request: the table of what each Anthropic field becomes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchboard.dialects.anthropic.request import decode_request
from switchboard.dialects.openai_chat.names import client_tool_id, upstream_tool_id
from switchboard.dialects.openai_chat.upstream_request import (
    Encoded,
    UpstreamProfile,
    encode_request,
)
from switchboard.errors import InvalidRequest

PROFILE = UpstreamProfile(model_id="cat/model", upstream_model="up-model")


def encode(profile: UpstreamProfile = PROFILE, **fields: Any) -> Encoded:
    base: dict[str, Any] = {
        "model": "cat/model",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    base.update(fields)
    return encode_request(decode_request(orjson.dumps(base)), profile)


def test_basic_fields() -> None:
    out = encode(
        system=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        stop_sequences=["X", "Y"],
        temperature=0.3,
        top_p=0.8,
        metadata={"user_id": "user-7"},
    ).body
    assert out["model"] == "up-model"
    assert out["messages"][0] == {"role": "system", "content": "a\n\nb"}
    assert out["messages"][1] == {"role": "user", "content": "hi"}
    assert out["max_tokens"] == 100
    assert out["stop"] == ["X", "Y"]
    assert (out["temperature"], out["top_p"]) == (0.3, 0.8)
    assert "stream" not in out


def test_user_id_goes_upstream_only_when_the_provider_asks() -> None:
    # Claude Code's metadata.user_id carries its device id: not another vendor's business.
    claude_code = '{"device_id":"d1","account_uuid":"","session_id":"s1"}'
    kept = encode(metadata={"user_id": claude_code})
    assert "user" not in kept.body
    assert "metadata.user_id (not forwarded: provider forward_user)" in kept.dropped
    forwarding = UpstreamProfile(model_id="cat/model", upstream_model="up", forward_user=True)
    sent = encode(forwarding, metadata={"user_id": "user-7"})
    assert sent.body["user"] == "user-7"
    assert not any("user_id" in d for d in sent.dropped)


def test_stream_always_asks_for_usage() -> None:
    out = encode(stream=True).body
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}


def test_max_tokens_field_and_clamp_are_per_profile() -> None:
    profile = UpstreamProfile(
        model_id="cat/model",
        upstream_model="up",
        max_tokens_field="max_completion_tokens",
        max_output_tokens=8192,
    )
    enc = encode(profile, max_tokens=64000)
    assert enc.body["max_completion_tokens"] == 8192
    assert "max_tokens" not in enc.body
    assert "max_tokens clamped from 64000 to 8192" in enc.dropped


def test_top_k_only_where_the_upstream_takes_it() -> None:
    assert "top_k" not in encode(top_k=3).body
    assert "top_k" in encode(top_k=3).dropped
    profile = UpstreamProfile(model_id="m", upstream_model="u", accepts_top_k=True)
    assert encode(profile, top_k=3).body["top_k"] == 3


def test_system_turn_mid_conversation_stays_in_place() -> None:
    msgs = encode(
        messages=[
            {"role": "user", "content": "a"},
            {"role": "system", "content": "switch to French"},
            {"role": "user", "content": "b"},
        ]
    ).body["messages"]
    assert [m["role"] for m in msgs] == ["user", "system", "user"]


def test_tool_history_keeps_text_order_and_results() -> None:
    enc = encode(
        tools=[
            {"name": "get_weather", "description": "d", "input_schema": {"type": "object"}},
        ],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"c": 1}},
                    {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"c": 2}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_b",
                        "is_error": True,
                        "content": [{"type": "text", "text": "no data"}],
                    },
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    )
    body = enc.body
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assistant = body["messages"][1]
    assert assistant["content"] == "Let me check."
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_a", "call_b"]
    assert orjson.loads(assistant["tool_calls"][1]["function"]["arguments"]) == {"c": 2}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_a", "content": "18C"}
    assert body["messages"][3]["content"] == "[tool error] no data"
    assert body["messages"][4] == {"role": "user", "content": "thanks"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "t"}, {"type": "function", "function": {"name": "t"}}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    tools = [{"name": "t", "input_schema": {"type": "object"}}]
    body = encode(tools=tools, tool_choice=choice).body
    assert body["tool_choice"] == expected
    assert "parallel_tool_calls" not in body


def test_long_and_odd_tool_names_are_mapped_reversibly() -> None:
    long_name = "mcp__server__" + "x" * 70
    enc = encode(
        tools=[
            {"name": long_name, "input_schema": {"type": "object"}},
            {"name": "has.dot", "input_schema": {"type": "object"}},
        ]
    )
    sent = [t["function"]["name"] for t in enc.body["tools"]]
    assert all(len(n) <= 64 and n.replace("_", "").replace("-", "").isalnum() for n in sent)
    assert {enc.tool_names[n] for n in sent} == {long_name, "has.dot"}


def test_unsafe_upstream_tool_ids_round_trip() -> None:
    upstream = "functions.Bash:0"
    client = client_tool_id(upstream)
    assert client.replace("_", "").replace("-", "").isalnum()
    assert upstream_tool_id(client) == upstream
    assert client_tool_id("call_abc") == "call_abc"


def test_images_become_image_url_parts_and_need_vision() -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
    ]
    parts = encode(messages=[{"role": "user", "content": content}]).body["messages"][0]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}
    blind = UpstreamProfile(model_id="cat/text-only", upstream_model="u", vision=False)
    with pytest.raises(InvalidRequest, match="model 'cat/text-only' does not accept images"):
        encode(blind, messages=[{"role": "user", "content": content}])


def test_tool_result_images_follow_in_a_user_turn() -> None:
    msgs = encode(
        messages=[
            {"role": "user", "content": "shot?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "c1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "c1",
                        "content": [
                            {"type": "image", "source": {"type": "url", "url": "https://x/p.png"}}
                        ],
                    }
                ],
            },
        ],
    ).body["messages"]
    assert msgs[2]["role"] == "tool"
    assert msgs[3]["role"] == "user"
    assert msgs[3]["content"][0]["text"] == "Images returned by tool call c1:"
    assert msgs[3]["content"][1]["image_url"]["url"] == "https://x/p.png"


def test_thinking_in_history_is_reported_when_dropped() -> None:
    enc = encode(
        messages=[
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "a"},
                ],
            },
            {"role": "user", "content": "q2"},
        ]
    )
    assert enc.body["messages"][1] == {"role": "assistant", "content": "a"}
    assert "thinking" in enc.dropped


def test_cache_control_on_a_self_caching_upstream_is_reported_as_such() -> None:
    content = [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}]
    caching = UpstreamProfile(model_id="m", upstream_model="u", prompt_caching=True)
    enc = encode(caching, messages=[{"role": "user", "content": content}])
    assert "cache_control (the upstream caches by itself)" in enc.dropped
    assert "cache_control" in encode(messages=[{"role": "user", "content": content}]).dropped
