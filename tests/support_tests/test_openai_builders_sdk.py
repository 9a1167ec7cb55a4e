"""The OpenAI builders' output is parsed by the real ``openai`` SDK against the mock."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from tests.support.mock_upstream import (
    ScriptedUpstream,
    openai_completion,
    openai_error,
    openai_stream,
    openai_tool_call,
)

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(upstream: ScriptedUpstream) -> Iterator[openai.OpenAI]:
    # No retries: a scripted error must surface at once, not be replayed against the queue.
    with openai.OpenAI(base_url=upstream.openai_base, api_key="sk-x", max_retries=0) as c:
        yield c


def test_completion_parses(upstream: ScriptedUpstream, client: openai.OpenAI) -> None:
    upstream.enqueue(openai_completion("hi there", usage=(5, 2), cached_tokens=4, model="gpt-z"))
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    assert out.choices[0].message.content == "hi there"
    assert out.choices[0].finish_reason == "stop"
    assert out.model == "gpt-z"
    assert out.id.startswith("chatcmpl-")
    assert out.usage is not None
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (
        5,
        2,
        7,
    )
    assert out.usage.prompt_tokens_details is not None
    assert out.usage.prompt_tokens_details.cached_tokens == 4
    sent = upstream.received[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-x"


def test_completion_tool_calls_reasoning_and_extras(
    upstream: ScriptedUpstream, client: openai.OpenAI
) -> None:
    call = openai_tool_call("get_weather", {"city": "Paris"}, id_="call_a1")
    upstream.enqueue(
        openai_completion(
            None,
            finish_reason="tool_calls",
            tool_calls=[call],
            reasoning_content="thinking...",
            extra_choice_fields={"stop_reason": None},
            usage=None,
        )
    )
    out = client.chat.completions.create(model="m", messages=MESSAGES)
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert out.usage is None
    tool_calls = choice.message.tool_calls
    assert tool_calls is not None
    function = tool_calls[0].function  # type: ignore[union-attr]
    assert (tool_calls[0].id, function.name) == ("call_a1", "get_weather")
    assert json.loads(function.arguments) == {"city": "Paris"}
    assert choice.message.model_extra == {"reasoning_content": "thinking..."}
    assert choice.model_extra is not None
    assert "stop_reason" in choice.model_extra


def test_stream_parses_chunk_by_chunk(upstream: ScriptedUpstream, client: openai.OpenAI) -> None:
    upstream.enqueue(openai_stream(["Hel", "lo"], usage=(11, 3), reasoning_pieces=["hmm"]))
    with client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    roles = [c.choices[0].delta.role for c in chunks if c.choices and c.choices[0].delta.role]
    assert roles == ["assistant"]
    first_delta = chunks[0].choices[0].delta
    assert first_delta.model_extra == {"reasoning_content": "hmm"}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 14
    assert upstream.received[0].json is not None


def test_stream_helper_accumulates_tool_calls(
    upstream: ScriptedUpstream, client: openai.OpenAI
) -> None:
    deltas = [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "f", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": '{"a":'}},
        {"index": 0, "function": {"arguments": " 1}"}},
    ]
    upstream.enqueue(
        openai_stream([], tool_call_deltas=deltas, finish_reason="tool_calls", usage=(7, 5))
    )
    with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.role == "assistant"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_1", "f", '{"a": 1}')
    assert final.usage is not None
    assert final.usage.prompt_tokens == 7


def test_stream_vendor_variants(upstream: ScriptedUpstream, client: openai.OpenAI) -> None:
    upstream.enqueue(
        openai_stream(
            ["x"],
            usage=(2, 1),
            usage_in_choice=True,
            extra_finish_fields={"stop_reason": "END"},
            done=False,
        )
    )
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    finish = chunks[-1].choices[0]
    assert finish.finish_reason == "stop"
    assert finish.model_extra is not None
    assert finish.model_extra["stop_reason"] == "END"
    assert finish.model_extra["usage"]["total_tokens"] == 3
    assert all(c.usage is None for c in chunks)


def test_empty_stream_still_sends_role(upstream: ScriptedUpstream, client: openai.OpenAI) -> None:
    upstream.enqueue(openai_stream([], usage=None))
    with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.role == "assistant"
    assert final.choices[0].message.content == ""
    assert final.usage is None


def test_error_envelope_raises_sdk_exceptions(
    upstream: ScriptedUpstream, client: openai.OpenAI
) -> None:
    upstream.enqueue(
        openai_error(400, "bad thing", code="unsupported_parameter", param="max_tokens"),
        openai_error(429, "slow down", type_="requests", headers={"retry-after": "1"}),
    )
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert bad.value.status_code == 400
    assert bad.value.code == "unsupported_parameter"
    assert bad.value.param == "max_tokens"
    assert "bad thing" in str(bad.value)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert limited.value.type == "requests"
    assert limited.value.response.headers["retry-after"] == "1"


def test_models_list_and_default_echo(upstream: ScriptedUpstream, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["upstream-model", "claude-upstream"]
    out = client.chat.completions.create(model="echo-me", messages=MESSAGES)
    assert (out.model, out.choices[0].message.content) == ("echo-me", "ok")
    with client.chat.completions.stream(model="echo-me", messages=MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "ok"
