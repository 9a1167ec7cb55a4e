"""The Anthropic builders' output is parsed by the real ``anthropic`` SDK against the mock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.support.mock_upstream import (
    ScriptedUpstream,
    SSEReply,
    ToolUseBlock,
    anthropic_error,
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
)
from tests.support.sse import parse_sse
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

from .http_client import request

MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(upstream: ScriptedUpstream) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=upstream.anthropic_base, api_key="sk-ant-x", max_retries=0
    ) as c:
        yield c


def test_message_parses(upstream: ScriptedUpstream, client: anthropic.Anthropic) -> None:
    upstream.enqueue(anthropic_message("hello", usage=(16, 7), stop_reason="max_tokens"))
    msg = client.messages.create(model="claude-m", max_tokens=8, messages=MESSAGES)
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.model == "claude-upstream"
    assert msg.stop_reason == "max_tokens"
    assert msg.stop_sequence is None
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "hello"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (16, 7)
    sent = upstream.received[0]
    assert sent.path == "/v1/messages"
    # anthropic 2.x sends the key as a Bearer token (0.x used x-api-key).
    assert sent.headers["authorization"] == "Bearer sk-ant-x"
    assert "anthropic-version" in sent.headers


def test_message_with_custom_content(
    upstream: ScriptedUpstream, client: anthropic.Anthropic
) -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    upstream.enqueue(anthropic_message(content=content, stop_reason="tool_use"))
    msg = client.messages.create(model="m", max_tokens=8, messages=MESSAGES)
    tool = msg.content[1]
    assert tool.type == "tool_use"
    assert (tool.id, tool.name, tool.input) == ("toolu_1", "get_weather", {"city": "Oslo"})


def test_stream_final_message(upstream: ScriptedUpstream, client: anthropic.Anthropic) -> None:
    upstream.enqueue(anthropic_stream(["Hel", "lo"], usage=(10, 2), model="claude-s"))
    with client.messages.stream(model="m", max_tokens=8, messages=MESSAGES) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == ["Hel", "lo"]
    assert final.content[0].type == "text"
    assert final.content[0].text == "Hello"
    assert (final.model, final.stop_reason) == ("claude-s", "end_turn")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (10, 2)
    assert upstream.received[0].json is not None
    assert upstream.received[0].json["stream"] is True  # type: ignore[index]


def test_stream_thinking_and_tools(upstream: ScriptedUpstream, client: anthropic.Anthropic) -> None:
    tools = [
        ToolUseBlock("get_weather", ["", '{"city": "Pa', 'ris"}'], id="toolu_a"),
        ToolUseBlock("noop", [""], id="toolu_b"),
    ]
    upstream.enqueue(anthropic_stream([], thinking="hmm", tool_uses=tools, stop_reason="tool_use"))
    with client.messages.stream(model="m", max_tokens=8, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    thinking, weather, noop = final.content
    assert thinking.type == "thinking"
    assert (thinking.thinking, thinking.signature) == ("hmm", "sig_mock")
    assert weather.type == "tool_use"
    assert (weather.id, weather.name, weather.input) == (
        "toolu_a",
        "get_weather",
        {"city": "Paris"},
    )
    assert noop.type == "tool_use"
    assert noop.input == {}
    assert final.stop_reason == "tool_use"


def test_validator_agrees_with_sdk_accumulation(
    upstream: ScriptedUpstream, client: anthropic.Anthropic
) -> None:
    reply = anthropic_stream(["a", "b"], thinking="t", tool_uses=[ToolUseBlock("f", ['{"x":1}'])])
    upstream.enqueue(reply, reply)
    with client.messages.stream(model="m", max_tokens=8, messages=MESSAGES) as stream:
        sdk_final = stream.get_final_message().model_dump(exclude_none=True)
    raw = request("POST", upstream.base_url + "/v1/messages", {"stream": True}).body
    ours = accumulate_message(parse_sse(raw))
    assert ours["content"] == sdk_final["content"]
    assert ours["usage"].items() <= sdk_final["usage"].items()
    assert ours["stop_reason"] == sdk_final["stop_reason"]


def test_error_envelope(upstream: ScriptedUpstream, client: anthropic.Anthropic) -> None:
    upstream.enqueue(
        anthropic_error(429, "rate_limit_error", "slow down", headers={"retry-after": "3"}),
        anthropic_error(529, "overloaded_error", "Overloaded"),
    )
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="m", max_tokens=8, messages=MESSAGES)
    assert limited.value.status_code == 429
    assert limited.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
    }
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        client.messages.create(model="m", max_tokens=8, messages=MESSAGES)
    assert overloaded.value.status_code == 529


def test_mid_stream_error_event(upstream: ScriptedUpstream, client: anthropic.Anthropic) -> None:
    frames = anthropic_stream(["Hel", "lo"]).frames[:4]
    frames.append(anthropic_error_event("overloaded_error", "Overloaded"))
    upstream.enqueue(SSEReply(frames))
    validate_anthropic_stream(parse_sse("".join(str(f) for f in frames)))
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(model="m", max_tokens=8, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()


def test_defaults_count_tokens_and_models(
    upstream: ScriptedUpstream, client: anthropic.Anthropic
) -> None:
    msg = client.messages.create(model="claude-echo", max_tokens=8, messages=MESSAGES)
    assert msg.model == "claude-echo"
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "ok"
    with client.messages.stream(model="claude-echo", max_tokens=8, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    assert (final.model, final.usage.input_tokens, final.usage.output_tokens) == (
        "claude-echo",
        10,
        2,
    )
    count = client.messages.count_tokens(model="m", messages=MESSAGES)
    assert count.input_tokens == 42
    assert [m.id for m in client.models.list()] == ["upstream-model", "claude-upstream"]
    assert upstream.received[-1].path == "/v1/models"
