"""The Anthropic Messages surface end to end: the real SDK against the real gateway process,
translating to a scripted OpenAI-compatible upstream."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from tests.e2e.conftest import CLIENT_KEY, MASTER_KEY, UPSTREAM_KEY
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_completion, openai_stream, openai_tool_call
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

MODEL = "moonshotai/kimi-k2-instruct"
HELLO: list[MessageParam] = [{"role": "user", "content": "Hello"}]


def post(gw: GatewayProcess, body: dict[str, Any], **headers: str) -> httpx.Response:
    hdrs = {"x-api-key": CLIENT_KEY, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return httpx.post(gw.url + "/v1/messages", json=body, headers=hdrs, timeout=10)


def test_non_stream_reply_as_the_sdk_sees_it(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("Hi there", usage=(21, 4), cached_tokens=5))
    raw = client.messages.with_raw_response.create(
        model=MODEL,
        max_tokens=256,
        system="Be brief.",
        stop_sequences=["STOP"],
        messages=HELLO,
    )
    msg = raw.parse()
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Hi there"
    assert msg.model == MODEL
    assert msg.id.startswith("msg_")
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (16, 4)
    assert msg.usage.cache_read_input_tokens == 5
    assert raw.headers["request-id"].startswith("req_")
    assert raw.headers["switchboard-channel"] == "up/kimi-k2-0905-preview"

    (seen,) = upstream.received
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert CLIENT_KEY not in str(seen.headers)
    assert seen.json == {
        "model": "kimi-k2-0905-preview",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
        ],
        "max_tokens": 256,
        "stop": ["STOP"],
    }


def test_stream_create_yields_valid_grammar_and_real_usage(
    client: anthropic.Anthropic, gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_stream(["Hel", "lo", " world"], usage=(30, 3)))
    with httpx.stream(
        "POST",
        gateway.url + "/anthropic/v1/messages",
        json={"model": MODEL, "max_tokens": 50, "stream": True, "messages": HELLO},
        headers={"authorization": f"Bearer {CLIENT_KEY}", "accept": "application/json"},
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["request-id"].startswith("req_")
        raw = resp.read()
    assert b"[DONE]" not in raw
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert msg["content"] == [{"type": "text", "text": "Hello world"}]
    assert msg["model"] == MODEL
    assert msg["usage"]["input_tokens"] == 30
    assert msg["usage"]["output_tokens"] == 3
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


def test_sdk_stream_iteration_and_helper(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_stream(["一", "二"], usage=(9, 2)))
    events = list(client.messages.create(model=MODEL, max_tokens=9, messages=HELLO, stream=True))
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"

    upstream.enqueue(openai_stream(["你好，", "世界"], usage=(12, 5)))
    with client.messages.stream(model=MODEL, max_tokens=20, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "你好，世界"
    assert final.content[0].type == "text"
    assert final.content[0].text == "你好，世界"
    assert final.usage.output_tokens == 5


def test_chinese_text_reaches_the_upstream_intact(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("收到"))
    msg = client.messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "请用中文回答"}]
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "收到"
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    assert sent["messages"][0]["content"] == "请用中文回答"


@pytest.mark.parametrize(
    "headers",
    [
        {"x_api_key": CLIENT_KEY},
        {"authorization": f"Bearer {CLIENT_KEY}"},
        {"x_api_key": "wrong", "authorization": f"Bearer {CLIENT_KEY}"},
        {"x_api_key": CLIENT_KEY, "authorization": "Bearer wrong"},
        {"x_api_key": MASTER_KEY},
    ],
)
def test_either_key_header_is_accepted(gateway: GatewayProcess, headers: dict[str, str]) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": HELLO}
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    resp = httpx.post(gateway.url + "/v1/messages", json=body, headers=hdrs, timeout=10)
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("version", ["2023-06-01", "2026-10-21", None])
def test_api_versions_betas_and_query_parameters(
    gateway: GatewayProcess, version: str | None
) -> None:
    headers = {
        "x-api-key": CLIENT_KEY,
        "anthropic-beta": "made-up-beta-2099-01-01,claude-code-20250219",
    }
    if version:
        headers["anthropic-version"] = version
    resp = httpx.post(
        gateway.url + "/v1/messages?beta=true",
        json={"model": MODEL, "max_tokens": 5, "messages": HELLO, "unknown_field": {"x": 1}},
        headers=headers,
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "message"


def test_aliases_answer_with_the_name_the_client_sent(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("ok"))
    msg = client.messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HELLO)
    assert msg.model == "claude-sonnet-5-5"
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    assert sent["model"] == "kimi-k2-0905-preview"


def test_system_role_turns_and_prefill(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("ok"))
    client.messages.create(
        model=MODEL,
        max_tokens=5,
        messages=[
            {"role": "user", "content": "a"},
            {"role": "system", "content": "answer in French"},  # type: ignore[misc,list-item]
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "Bien"},
        ],
    )
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    assert [m["role"] for m in sent["messages"]] == ["user", "system", "user", "assistant"]


STOP_CASES = [
    ("stop", {}, "end_turn", None),
    ("stop", {"stop_reason": "END"}, "stop_sequence", "END"),
    ("length", {}, "max_tokens", None),
    ("content_filter", {}, "refusal", None),
    ("something_new", {}, "end_turn", None),
]


@pytest.mark.parametrize(("finish", "extra", "reason", "sequence"), STOP_CASES)
def test_every_stop_reason_non_stream(
    client: anthropic.Anthropic,
    upstream: ScriptedUpstream,
    finish: str,
    extra: dict[str, Any],
    reason: str,
    sequence: str | None,
) -> None:
    upstream.enqueue(openai_completion("x", finish_reason=finish, extra_choice_fields=extra))
    msg = client.messages.create(model=MODEL, max_tokens=5, stop_sequences=["END"], messages=HELLO)
    assert (msg.stop_reason, msg.stop_sequence) == (reason, sequence)


@pytest.mark.parametrize(("finish", "extra", "reason", "sequence"), STOP_CASES)
def test_every_stop_reason_stream(
    client: anthropic.Anthropic,
    upstream: ScriptedUpstream,
    finish: str,
    extra: dict[str, Any],
    reason: str,
    sequence: str | None,
) -> None:
    upstream.enqueue(openai_stream(["x"], finish_reason=finish, extra_finish_fields=extra))
    with client.messages.stream(
        model=MODEL, max_tokens=5, stop_sequences=["END"], messages=HELLO
    ) as stream:
        final = stream.get_final_message()
    assert (final.stop_reason, final.stop_sequence) == (reason, sequence)


def test_tool_use_stop_reason_and_blocks(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    tools: Any = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    upstream.enqueue(
        openai_completion(
            "Checking.",
            finish_reason="tool_calls",
            tool_calls=[openai_tool_call("get_weather", {"city": "Paris"}, id_="call_9")],
        )
    )
    msg = client.messages.create(model=MODEL, max_tokens=50, tools=tools, messages=HELLO)
    assert msg.stop_reason == "tool_use"
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    block = msg.content[1]
    assert block.type == "tool_use"
    assert (block.id, block.name, block.input) == ("call_9", "get_weather", {"city": "Paris"})


def test_max_tokens_is_clamped_and_reported(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("ok"))
    raw = client.messages.with_raw_response.create(
        model="test/clamped", max_tokens=20000, messages=HELLO
    )
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    assert sent["max_tokens"] == 1000
    assert "max_tokens clamped from 20000 to 1000" in raw.headers["switchboard-dropped"]


def test_cache_control_is_reported_in_the_loss_header(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("ok"))
    content = [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    resp = post(
        gateway,
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": content}]},
    )
    assert resp.status_code == 200
    assert "cache_control" in resp.headers["switchboard-dropped"]


def test_failover_to_the_next_channel_before_the_first_byte(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("from backup"))
    raw = client.messages.with_raw_response.create(
        model="test/failover", max_tokens=5, messages=HELLO
    )
    msg = raw.parse()
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "from backup"
    assert raw.headers["switchboard-channel"] == "up/backup-model"


def test_readme_default_headers_bearer_form(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("ok"))
    with anthropic.Anthropic(
        base_url=gateway.url + "/anthropic",
        api_key="unused",
        default_headers={"Authorization": f"Bearer {CLIENT_KEY}"},
        max_retries=0,
    ) as c:
        msg = c.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    assert msg.content[0].type == "text"


def test_thinking_round_trip_with_the_echo(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    """DeepSeek-style: reasoning comes back as a signed thinking block; sent back with the tool
    result, it reaches the upstream again as reasoning_content."""
    tools: Any = [{"name": "ls", "input_schema": {"type": "object"}}]
    upstream.enqueue(
        openai_stream(
            [],
            reasoning_pieces=["I should ", "list files"],
            finish_reason="tool_calls",
            tool_call_deltas=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "ls", "arguments": "{}"},
                }
            ],
        )
    )
    with client.messages.stream(
        model="test/thinker",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=tools,
        messages=HELLO,
    ) as stream:
        first = stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    thinking = first.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking == "I should list files"
    assert thinking.signature.startswith("sbsig1.")
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    assert sent["thinking"] == {"type": "enabled"}

    upstream.enqueue(openai_completion("a.txt"))
    client.messages.create(
        model="test/thinker",
        max_tokens=2048,
        tools=tools,
        messages=[
            *HELLO,
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt"}],
            },
        ],
    )
    second = upstream.received[1].json
    assert isinstance(second, dict)
    assistant = second["messages"][1]
    assert assistant["reasoning_content"] == "I should list files"
    assert assistant["tool_calls"][0]["id"] == "call_1"
