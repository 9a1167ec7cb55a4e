"""The real `openai` SDK's Responses client against the real gateway, over an OpenAI
chat-completions upstream and an Anthropic one (both translated through the IR): create,
stream, a function tool round trip, structured output, stored conversations."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import (
    Reply,
    ScriptedUpstream,
    ToolUseBlock,
    anthropic_message,
    anthropic_stream,
    openai_completion,
    openai_stream,
    openai_tool_call,
)
from tests.support.recording import Recorder

from .conftest import BOB, gateway_config, make_client

pytestmark = pytest.mark.e2e

MODELS = ["gpt-test", "claude-test"]

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def text_reply(model: str, text: str, *, stream: bool, thinking: str | None = None) -> Reply:
    if model == "gpt-test":
        if stream:
            pieces = [text[: len(text) // 2], text[len(text) // 2 :]]
            return openai_stream(pieces, reasoning_pieces=[thinking] if thinking else None)
        return openai_completion(text, reasoning_content=thinking)
    if stream:
        return anthropic_stream([text[:3], text[3:]], thinking=thinking)
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if thinking:
        content.insert(0, {"type": "thinking", "thinking": thinking, "signature": "sig_1"})
    return anthropic_message(content=content)


def tool_reply(model: str, *, stream: bool) -> Reply:
    args = '{"city": "Paris"}'
    if model == "gpt-test":
        if stream:
            deltas = [
                {
                    "index": 0,
                    "id": "call_w1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":'},
                },
                {"index": 0, "function": {"arguments": ' "Paris"}'}},
            ]
            return openai_stream([], tool_call_deltas=deltas, finish_reason="tool_calls")
        call = openai_tool_call("get_weather", args, id_="call_w1")
        return openai_completion(None, tool_calls=[call], finish_reason="tool_calls")
    if stream:
        block = ToolUseBlock("get_weather", ['{"city":', ' "Paris"}'], id="call_w1")
        return anthropic_stream([], tool_uses=[block], stop_reason="tool_use")
    use = {"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": {"city": "Paris"}}
    return anthropic_message(content=[use], stop_reason="tool_use")


def upstream_body(upstream: ScriptedUpstream, index: int = -1) -> dict[str, Any]:
    body = upstream.received[index].json
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("model", MODELS)
def test_create(client: openai.OpenAI, upstream: ScriptedUpstream, model: str) -> None:
    upstream.enqueue(text_reply(model, "Hello there", stream=False))
    resp = client.responses.create(
        model=model,
        instructions="Be brief.",
        input="Say hello",
        max_output_tokens=300,
        temperature=0.5,
        metadata={"run": "r1"},
    )
    assert resp.id.startswith("resp_")
    assert resp.object == "response"
    assert resp.status == "completed"
    assert resp.model == model
    assert resp.output_text == "Hello there"
    assert resp.output[0].type == "message"
    assert resp.output[0].id.startswith("msg_")
    assert resp.metadata == {"run": "r1"}
    assert resp.max_output_tokens == 300
    assert resp.usage is not None
    assert resp.usage.input_tokens > 0
    assert resp.usage.output_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    assert resp.usage.input_tokens_details.cached_tokens == 0
    assert resp.usage.output_tokens_details.reasoning_tokens == 0
    sent = upstream_body(upstream)
    if model == "gpt-test":
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent["max_tokens"] == 300
    else:
        assert "Be brief." in json.dumps(sent["system"])
        assert sent["max_tokens"] == 300
    assert "metadata" not in sent


@pytest.mark.parametrize("model", MODELS)
def test_stream(client: openai.OpenAI, upstream: ScriptedUpstream, model: str) -> None:
    upstream.enqueue(text_reply(model, "Hello there", stream=True, thinking="Let me think."))
    kinds: list[str] = []
    deltas: list[str] = []
    summary: list[str] = []
    with client.responses.stream(
        model=model, input="Say hello", reasoning={"effort": "low", "summary": "auto"}
    ) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.reasoning_summary_text.delta":
                summary.append(event.delta)
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "".join(deltas) == "Hello there" == final.output_text
    assert "".join(summary) == "Let me think."
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.usage is not None
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_function_tool_round_trip(
    client: openai.OpenAI, upstream: ScriptedUpstream, model: str, stream: bool
) -> None:
    upstream.enqueue(tool_reply(model, stream=stream))
    upstream.enqueue(text_reply(model, "It is sunny in Paris.", stream=stream))
    asked: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    def create(input_: list[Any]) -> Any:
        if not stream:
            return client.responses.create(model=model, input=input_, tools=[WEATHER])
        with client.responses.stream(model=model, input=input_, tools=[WEATHER]) as s:
            return s.get_final_response()

    first = create(asked)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("fc_")
    tools_sent = upstream_body(upstream)["tools"]
    assert "get_weather" in json.dumps(tools_sent)

    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 24C"}
    second = create([*asked, *[item.model_dump() for item in first.output], output])
    assert second.output_text == "It is sunny in Paris."
    sent = json.dumps(upstream_body(upstream))
    assert "sunny, 24C" in sent
    assert call.call_id in sent


@pytest.mark.parametrize("model", MODELS)
def test_structured_output(client: openai.OpenAI, upstream: ScriptedUpstream, model: str) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
        "required": ["city", "temp"],
        "additionalProperties": False,
    }
    upstream.enqueue(text_reply(model, '{"city": "Paris", "temp": 24}', stream=False))
    resp = client.responses.create(
        model=model,
        input="Weather as JSON",
        text={
            "format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}
        },
    )
    assert json.loads(resp.output_text) == {"city": "Paris", "temp": 24}
    assert resp.text is not None
    assert resp.text.format is not None
    assert resp.text.format.type == "json_schema"
    sent = upstream_body(upstream)
    if model == "gpt-test":
        assert sent["response_format"]["json_schema"]["schema"] == schema
    else:
        assert sent["output_config"]["format"]["schema"] == schema


@pytest.mark.parametrize("model", MODELS)
def test_previous_response_id(
    client: openai.OpenAI,
    upstream: ScriptedUpstream,
    gateway: GatewayProcess,
    recorder: Recorder,
    model: str,
) -> None:
    upstream.enqueue(text_reply(model, "Noted: your name is Ada.", stream=True))
    with client.responses.stream(model=model, input="My name is Ada.") as s:
        first = s.get_final_response()
    upstream.enqueue(text_reply(model, "Your name is Ada.", stream=False))
    second = client.responses.create(
        model=model, input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "Your name is Ada."
    sent = json.dumps(upstream_body(upstream))
    assert "My name is Ada." in sent
    assert "Noted: your name is Ada." in sent
    assert "What is my name?" in sent
    # A chain of three: the second's own conversation was stored too.
    upstream.enqueue(text_reply(model, "Yes.", stream=False))
    client.responses.create(model=model, input="Sure?", previous_response_id=second.id)
    sent = json.dumps(upstream_body(upstream))
    assert "My name is Ada." in sent
    assert "Your name is Ada." in sent
    # Another key cannot read it.
    other = make_client(gateway, BOB, recorder)
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.create(model=model, input="?", previous_response_id=first.id)
    assert caught.value.body is not None
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_store_false_is_not_kept(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(text_reply("gpt-test", "ok", stream=False))
    first = client.responses.create(model="gpt-test", input="hi", store=False)
    assert first.model_extra is not None
    assert first.model_extra["store"] is False
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-test", input="?", previous_response_id=first.id)


def test_previous_response_id_without_storage(
    upstream: ScriptedUpstream, recorder: Recorder
) -> None:
    with GatewayProcess(gateway_config(upstream, store=False)) as gw:
        client = make_client(gw, BOB, recorder)
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="gpt-test", input="hi", previous_response_id="resp_123")
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "previous_response_id"
    assert "previous_response_id" in error["message"]
    assert caught.value.response.headers["x-request-id"]
    assert upstream.received == []


@pytest.mark.parametrize("tool", ["web_search", "file_search", "code_interpreter"])
def test_builtin_tools_refused_by_name(
    client: openai.OpenAI, upstream: ScriptedUpstream, tool: str
) -> None:
    builtin: Any = {"type": tool}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-test", input="hi", tools=[WEATHER, builtin])
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "tools.1.type"
    assert tool in error["message"]
    assert upstream.received == []


def test_errors_in_the_openai_envelope(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="hi")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "model"
    no_content: Any = [{"type": "message", "role": "user"}]
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-test", input=no_content)
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["param"] == "input.0.content"
