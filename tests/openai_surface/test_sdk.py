"""The real `openai` SDK against the real gateway, over every upstream dialect: an OpenAI-dialect
upstream (pass-through), an Anthropic one, a Gemini one, Claude on Vertex AI, and AWS Bedrock
(Claude through InvokeModel, Llama through Converse; SigV4 checked), translated through the IR."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import openai
import pytest

from tests.support.bedrock_upstream import ACCESS_KEY, SECRET_KEY
from tests.support.gateway import GatewayProcess

from .conftest import (
    BEDROCK_CLAUDE,
    BEDROCK_LLAMA,
    CLIENT_KEY,
    UPSTREAM_ANTHROPIC_KEY,
    UPSTREAM_GEMINI_KEY,
    UPSTREAM_OPENAI_KEY,
)
from .upstreams import VERTEX_TOKEN, Call, Script, ScriptedServer

pytestmark = pytest.mark.e2e

HELLO: list[Any] = [{"role": "user", "content": "Say hello"}]

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

CONVERSE_TOOL = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather",
        "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]},
    }
}

TWO_CALLS = (
    Call("call_a1", "get_weather", ('{"city":', ' "Paris"}')),
    Call("call_b2", "get_weather", ('{"ci', 'ty": "Rome"}')),
)


def upstream_model(upstream: ScriptedServer) -> str:
    return "upstream-gpt" if upstream.kind == "openai" else "upstream-claude"


def anthropic_body(upstream: ScriptedServer) -> bool:
    """Whether the upstream got an Anthropic Messages body (Claude on Bedrock through
    InvokeModel does; other Bedrock models go through Converse)."""
    if upstream.kind == "bedrock":
        return not converse(upstream)
    return upstream.kind in ("anthropic", "vertex")


def converse(upstream: ScriptedServer) -> bool:
    return upstream.kind == "bedrock" and "/converse" in upstream.received[-1].path


def test_non_stream(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO)
    completion = raw.parse()
    assert raw.headers["x-request-id"]
    assert completion.object == "chat.completion"
    assert completion.model == model
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (10, 2)
    assert completion.usage.total_tokens == 12
    headers = {k.lower(): v for k, v in upstream.received[-1].headers.items()}
    if upstream.kind == "gemini":
        assert upstream.received[-1].path == "/v1beta/models/upstream-gemini:generateContent"
        assert headers["x-goog-api-key"] == UPSTREAM_GEMINI_KEY
        assert upstream.last["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
        assert upstream.last["generationConfig"]["maxOutputTokens"] > 0
        return
    if upstream.kind == "bedrock":
        assert headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
        if converse(upstream):
            assert upstream.received[-1].path == f"/model/{BEDROCK_LLAMA}/converse"
            assert upstream.last["messages"] == [
                {"role": "user", "content": [{"text": "Say hello"}]}
            ]
            return
        assert upstream.received[-1].path == f"/model/{BEDROCK_CLAUDE}/invoke"
        assert upstream.last["anthropic_version"] == "bedrock-2023-05-31"
        assert "model" not in upstream.last
        assert "stream" not in upstream.last
        assert upstream.last["messages"] == [{"role": "user", "content": "Say hello"}]
        assert upstream.last["max_tokens"] > 0
        return
    if upstream.kind == "vertex":
        path = "/v1/projects/scenario-project/locations/us-east5/publishers/anthropic/models/"
        assert upstream.received[-1].path == path + "claude-upstream@20250101:rawPredict"
        assert headers["authorization"] == f"Bearer {VERTEX_TOKEN}"
        assert upstream.last["anthropic_version"] == "vertex-2023-10-16"
        assert "model" not in upstream.last
        assert upstream.last["messages"] == [{"role": "user", "content": "Say hello"}]
        return
    assert upstream.last["model"] == upstream_model(upstream)
    if upstream.kind == "openai":
        assert headers["authorization"] == f"Bearer {UPSTREAM_OPENAI_KEY}"
        assert upstream.last["messages"] == HELLO
    else:
        assert headers["x-api-key"] == UPSTREAM_ANTHROPIC_KEY
        assert upstream.last["messages"] == [{"role": "user", "content": "Say hello"}]
        assert upstream.last["max_tokens"] > 0


def test_stream_without_usage(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(text=("Hel", "lo", " world")))
    chunks = list(client.chat.completions.create(model=model, messages=HELLO, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == model for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.role) == 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    # The client did not ask for usage: no usage chunk reaches it...
    assert all(c.usage is None and c.choices for c in chunks)
    # ...though the gateway asked the upstream for it, to account.
    if upstream.kind == "openai":
        assert upstream.last["stream_options"] == {"include_usage": True}
    if upstream.kind == "bedrock":  # the streaming operation, not the whole reply's
        action = "converse-stream" if converse(upstream) else "invoke-with-response-stream"
        assert upstream.received[-1].path.endswith("/" + action)


def test_stream_with_usage(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    stream = client.chat.completions.create(
        model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert chunks[-1] is usage_chunks[0]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (10, 2)


def test_stream_helper(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(text=("One", ", two")))
    with client.chat.completions.stream(model=model, messages=HELLO) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta" and e.delta]
        final = stream.get_final_completion()
    assert deltas == ["One", ", two"]
    assert final.choices[0].message.content == "One, two"
    assert final.choices[0].finish_reason == "stop"


def test_streamed_tool_calls(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(text=(), calls=TWO_CALLS, stop="tool"))
    with client.chat.completions.stream(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris and Rome?"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.id for c in calls] == ["call_a1", "call_b2"]
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]  # type: ignore[union-attr]
    args = [json.loads(c.function.arguments) for c in calls]  # type: ignore[union-attr]
    assert args == [{"city": "Paris"}, {"city": "Rome"}]
    if anthropic_body(upstream):
        assert upstream.last["tools"] == [
            {
                "name": "get_weather",
                "description": "Current weather",
                "input_schema": WEATHER_TOOL["function"]["parameters"],
            }
        ]
    elif upstream.kind == "gemini":
        declaration = {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": WEATHER_TOOL["function"]["parameters"],
        }
        assert upstream.last["tools"] == [{"functionDeclarations": [declaration]}]
    elif converse(upstream):
        assert upstream.last["toolConfig"]["tools"] == [CONVERSE_TOOL]
    else:
        assert upstream.last["tools"] == [WEATHER_TOOL]


def test_tool_calls_non_stream(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(text=(), calls=TWO_CALLS[:1], stop="tool"))
    completion = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = (choice.message.tool_calls or [])[0]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    if anthropic_body(upstream):
        assert upstream.last["tool_choice"] == {"type": "tool", "name": "get_weather"}
    if converse(upstream):
        assert upstream.last["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}
    if upstream.kind == "gemini":
        assert upstream.last["toolConfig"] == {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
        }


def test_tool_results_round_trip(
    client: openai.OpenAI, model: str, upstream: ScriptedServer
) -> None:
    history: Any = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_b2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_b2", "content": [{"type": "text", "text": "24C"}]},
    ]
    completion = client.chat.completions.create(model=model, messages=history, tools=[WEATHER_TOOL])
    assert completion.choices[0].message.content == "Hello"
    if upstream.kind == "openai":
        assert upstream.last["messages"] == history
        return
    if converse(upstream):
        assert upstream.last["system"] == [{"text": "Be brief."}]
        paris, rome = {"city": "Paris"}, {"city": "Rome"}
        assert upstream.last["messages"] == [
            {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
            {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": "call_a1", "name": "get_weather", "input": paris}},
                    {"toolUse": {"toolUseId": "call_b2", "name": "get_weather", "input": rome}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "call_a1", "content": [{"text": "18C"}]}},
                    {"toolResult": {"toolUseId": "call_b2", "content": [{"text": "24C"}]}},
                ],
            },
        ]
        return
    if upstream.kind == "gemini":
        assert upstream.last["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        paris, rome = {"city": "Paris"}, {"city": "Rome"}
        assert upstream.last["contents"] == [
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"id": "call_a1", "name": "get_weather", "args": paris}},
                    {"functionCall": {"id": "call_b2", "name": "get_weather", "args": rome}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "call_a1",
                            "name": "get_weather",
                            "response": {"content": "18C"},
                        }
                    },
                    {
                        "functionResponse": {
                            "id": "call_b2",
                            "name": "get_weather",
                            "response": {"content": "24C"},
                        }
                    },
                ],
            },
        ]
        return
    assert upstream.last["system"] == "Be brief."
    assert upstream.last["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_a1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "call_b2",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_a1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_b2", "content": "24C"},
            ],
        },
    ]


# A 1x1 PNG.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJg"
    "gg=="
)


def test_images(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    content: Any = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    if model == "bedrock-llama-test":
        # Converse takes images as bytes only: a URL is refused, naming the part.
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": content}]
            )
        assert info.value.param == "messages.0.content.2"
        completion = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": content[:2]}]
        )
        assert completion.choices[0].message.content == "Hello"
        assert upstream.last["messages"][0]["content"] == [
            {"text": "What is in these?"},
            {"image": {"format": "png", "source": {"bytes": PIXEL}}},
        ]
        return
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}]
    )
    assert completion.choices[0].message.content == "Hello"
    if upstream.kind == "openai":
        assert upstream.last["messages"][0]["content"] == content
        return
    if upstream.kind == "gemini":
        assert upstream.last["contents"][0]["parts"] == [
            {"text": "What is in these?"},
            {"inlineData": {"mimeType": "image/png", "data": PIXEL}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        ]
        return
    assert upstream.last["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_reasoning(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(reasoning="Thinking hard."), Script(reasoning="Thinking hard."))
    completion = client.chat.completions.create(
        model=model, messages=HELLO, reasoning_effort="low", max_completion_tokens=5000
    )
    message = completion.choices[0].message
    assert message.content == "Hello"
    assert getattr(message, "reasoning_content", None) == "Thinking hard."
    chunks = list(
        client.chat.completions.create(
            model=model, messages=HELLO, reasoning_effort="low", stream=True
        )
    )
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", "") or "" for c in chunks)
    assert reasoning == "Thinking hard."
    if anthropic_body(upstream):
        assert upstream.last["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert upstream.received[0].body["max_tokens"] == 5000
    elif upstream.kind == "gemini":
        thinking = {"includeThoughts": True, "thinkingBudget": 2048}
        assert upstream.last["generationConfig"]["thinkingConfig"] == thinking
        assert upstream.received[0].body["generationConfig"]["maxOutputTokens"] == 5000
    elif converse(upstream):
        # Converse models' reasoning controls are model-specific: the effort is not sent (the
        # loss is reported), though the reasoning the model returns reaches the client.
        assert "additionalModelRequestFields" not in upstream.last
    else:
        assert upstream.last["reasoning_effort"] == "low"


def test_structured_output(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
    }
    upstream.play(Script(text=('{"a": 1}',)))
    completion = client.chat.completions.create(
        model=model,
        messages=HELLO,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        temperature=0.5,
        stop=["END"],
        user="user-7",
    )
    assert json.loads(completion.choices[0].message.content or "") == {"a": 1}
    if anthropic_body(upstream):
        body = upstream.last
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
        assert body["temperature"] == 0.5
        assert body["stop_sequences"] == ["END"]
        assert body["metadata"] == {"user_id": "user-7"}
    if upstream.kind == "gemini":
        config = upstream.last["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseSchema"] == schema
        assert (config["temperature"], config["stopSequences"]) == (0.5, ["END"])


def test_finish_length(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(stop="length"))
    completion = client.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
    assert completion.choices[0].finish_reason == "length"


# Errors


def test_bad_key(gateway: GatewayProcess) -> None:
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong", max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        c.chat.completions.create(model="gpt-test", messages=HELLO)
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert info.value.response.headers["x-request-id"]
    assert "sk-wrong" not in info.value.response.text


def test_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert info.value.code == "model_not_found"
    assert info.value.param == "model"
    body = info.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_model_not_on_openai_endpoint(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="anthropic-only", messages=HELLO)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": HELLO, "max_tokens": "many"}, "max_tokens"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.tool_call_id"),
        (
            {"messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages.0.content.0.type",
        ),
        ({"messages": HELLO, "n": 3}, "n"),
        ({"messages": HELLO, "reasoning_effort": "huge"}, "reasoning_effort"),
    ],
)
def test_invalid_request_names_field(
    client: openai.OpenAI, fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="claude-test", **fields)
    assert info.value.param == param
    assert info.value.type == "invalid_request_error"
    assert param in info.value.message


def test_upstream_rate_limit(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(error=(429, "slow down"), retry_after="7"))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=model, messages=HELLO)
    if upstream.kind != "bedrock":  # Bedrock's throttling carries no retry delay to relay
        assert info.value.response.headers["retry-after"] == "7"
    assert "slow down" in info.value.message


def test_mid_stream_error(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(fail_mid_stream=True))
    stream = client.chat.completions.create(model=model, messages=HELLO, stream=True)
    seen: list[str] = []

    def read() -> None:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError) as info:
        read()
    assert "".join(seen) == "Hel"
    assert info.value.message


def test_models_list(gateway: GatewayProcess) -> None:
    # (The unprefixed GET /v1/models is shared with the Anthropic surface; see app.py.)
    with openai.OpenAI(base_url=gateway.url + "/openai/v1", api_key=CLIENT_KEY) as c:
        models = c.models.list()
    ids = {m.id for m in models.data}
    assert {"gpt-test", "claude-test"} <= ids
    assert "anthropic-only" not in ids
    assert all(m.object == "model" and isinstance(m.created, int) for m in models.data)


def test_unprefixed_models_list_answers_each_sdk_in_its_own_shape(gateway: GatewayProcess) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY) as c:
        listed = c.models.list()
    assert {"gpt-test", "claude-test"} <= {m.id for m in listed.data}
    assert all(m.object == "model" for m in listed.data)
    with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY) as a:
        page = a.models.list()
    assert page.data[0].type == "model"  # Anthropic shape: the SDK sent anthropic-version
    assert {"gpt-test", "claude-test", "anthropic-only"} <= {m.id for m in page.data}
    assert "anthropic-only" not in {m.id for m in listed.data}


def test_models_need_a_key(gateway: GatewayProcess) -> None:
    with (
        openai.OpenAI(base_url=gateway.url + "/openai/v1", api_key="bad", max_retries=0) as c,
        pytest.raises(openai.AuthenticationError),
    ):
        c.models.list()


def test_client_key_is_not_forwarded(
    client: openai.OpenAI, model: str, upstream: ScriptedServer
) -> None:
    client.chat.completions.create(model=model, messages=HELLO)
    headers = json.dumps(upstream.received[-1].headers)
    assert CLIENT_KEY not in headers


def test_stream_has_request_id(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO, stream=True)
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == "Hello"


def test_loss_report_header(client: openai.OpenAI, upstream: ScriptedServer) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-test", messages=HELLO, temperature=1.5, seed=4
    )
    report = raw.headers["switchboard-dropped"]
    assert "seed" in report
    assert "temperature clamped from 1.5 to 1.0" in report
    assert raw.headers["switchboard-channel"] == "up-anthropic/upstream-claude"


def test_upstream_server_error(client: openai.OpenAI, model: str, upstream: ScriptedServer) -> None:
    upstream.play(Script(error=(500, "kaboom")))
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=HELLO, stream=True)
    assert info.value.status_code == 502
    assert "kaboom" in info.value.message
    assert info.value.response.json()["error"]["type"] == "server_error"


def test_no_secret_in_logs(
    gateway: GatewayProcess, client: openai.OpenAI, model: str, upstream: ScriptedServer
) -> None:
    client.chat.completions.create(model=model, messages=HELLO)
    with pytest.raises(openai.AuthenticationError):
        client.with_options(api_key="sk-leaked-guess").chat.completions.create(
            model=model, messages=HELLO
        )
    # The access log is written off the hot path, by a thread: give it a moment.
    deadline = time.monotonic() + 5
    text = gateway.output()
    while '"status":401' not in text and time.monotonic() < deadline:
        time.sleep(0.05)
        text = gateway.output()
    assert '"status":200' in text
    assert '"status":401' in text
    secrets = (CLIENT_KEY, UPSTREAM_OPENAI_KEY, UPSTREAM_ANTHROPIC_KEY, SECRET_KEY)
    for secret in (*secrets, "sk-leaked-guess"):
        assert secret not in text
