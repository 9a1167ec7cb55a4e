"""The Bedrock InvokeModel surface, driven by the Anthropic SDK's Bedrock client (its bearer-token
mode carries the Switchboard key) and by raw HTTP; every stream passes the event-stream check
and the Anthropic stream grammar."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from tests.support.eventstream_validator import validate_bedrock_stream
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import (
    ScriptedUpstream,
    SSEReply,
    ToolUseBlock,
    anthropic_stream,
    openai_completion,
    openai_stream,
    openai_tool_call,
)
from tests.support.stream_validator import StreamGrammarError

from .conftest import KEY, MASTER

# What Claude Code sends on Bedrock: a cross-region inference profile id.
BEDROCK_ID = "us.anthropic.claude-test-20250101-v1:0"
RELAY_ID = "eu.anthropic.claude-relay-20250101-v1:0"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64}
MESSAGES: list[MessageParam] = [{"role": "user", "content": "hi"}]


def _bytes(frame: str | bytes) -> bytes:
    return frame if isinstance(frame, bytes) else frame.encode()


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        api_key=KEY, base_url=gateway.url, aws_region="us-east-1", max_retries=0
    )


def _post(
    gateway: GatewayProcess, path: str, body: dict[str, object], **headers: str
) -> httpx.Response:
    return httpx.post(
        gateway.url + path,
        content=json.dumps(body),
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json", **headers},
        timeout=30,
    )


def test_invoke_translated(client: anthropic.AnthropicBedrock, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(openai_completion("hello there", usage=(12, 4)))
    before = len(upstream.received)
    message = client.messages.create(model=BEDROCK_ID, max_tokens=64, messages=MESSAGES)
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello there"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 4)
    sent = upstream.received[before:][-1]
    assert sent.path == "/v1/chat/completions"
    assert isinstance(sent.json, dict)
    assert sent.json["model"] == "upstream-gpt"


def test_stream_translated_through_the_sdk(
    client: anthropic.AnthropicBedrock, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_stream(["Hel", "lo", " you"]))
    with client.messages.stream(model=BEDROCK_ID, max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello you"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


def test_tool_use_round_trip(
    client: anthropic.AnthropicBedrock, upstream: ScriptedUpstream
) -> None:
    tools: list[anthropic.types.ToolParam] = [
        {
            "name": "Write",
            "description": "write a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        }
    ]
    call = openai_tool_call("Write", {"path": "/tmp/x"}, id_="call_7")
    upstream.enqueue(openai_completion(None, finish_reason="tool_calls", tool_calls=[call]))
    first = client.messages.create(model=BEDROCK_ID, max_tokens=64, messages=MESSAGES, tools=tools)
    assert first.stop_reason == "tool_use"
    use = first.content[-1]
    assert use.type == "tool_use"
    assert use.input == {"path": "/tmp/x"}
    upstream.enqueue(openai_completion("written"))
    before = len(upstream.received)
    second = client.messages.create(
        model=BEDROCK_ID,
        max_tokens=64,
        tools=tools,
        messages=[
            *MESSAGES,
            {"role": "assistant", "content": [use]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "done"}],
            },
        ],
    )
    assert second.content[0].type == "text"
    assert second.content[0].text == "written"
    sent = upstream.received[before:][-1].json
    assert isinstance(sent, dict)
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": "call_7", "content": "done"}


@pytest.mark.parametrize("model", [BEDROCK_ID, RELAY_ID])
def test_stream_framing_and_grammar(
    gateway: GatewayProcess, upstream: ScriptedUpstream, model: str
) -> None:
    """Translated (IR events encoded) and relayed (an Anthropic upstream's bytes, cut into
    small reads) streams alike: whole chunk messages with correct CRCs, the Anthropic grammar."""
    if model == RELAY_ID:
        tool = ToolUseBlock("Write", ['{"a"', ": 1}"])
        whole = b"".join(
            _bytes(f) for f in anthropic_stream(["Hel", "lo"], tool_uses=[tool]).frames
        )
        upstream.enqueue(SSEReply([whole[i : i + 7] for i in range(0, len(whole), 7)]))
    else:
        upstream.enqueue(openai_stream(["Hel", "lo"]))
    resp = _post(
        gateway, f"/model/{model}/invoke-with-response-stream", {**BODY, "messages": MESSAGES}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/vnd.amazon.eventstream"
    stream = validate_bedrock_stream(resp.content)
    assert stream.exception is None
    deltas = [e["delta"].get("text") for e in stream.events if e["type"] == "content_block_delta"]
    assert "".join(d for d in deltas if d) == "Hello"
    assert stream.events[0]["message"]["model"] == (
        "claude-relay" if model == RELAY_ID else "claude-test"
    )


def test_relay_takes_betas_and_version_from_the_body(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.received)
    body = {**BODY, "anthropic_beta": ["context-1m-2025-08-07"], "messages": MESSAGES}
    resp = _post(
        gateway, f"/bedrock/model/{RELAY_ID}/invoke", body, **{"anthropic-beta": "tools-2024"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "claude-relay"
    sent = upstream.received[before:][-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07,tools-2024"
    assert sent.json == {
        "max_tokens": 64,
        "messages": MESSAGES,
        "model": "upstream-claude",
        "stream": False,
    }


def test_error_in_the_stream_is_an_exception_message(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    # The upstream fails after its first chunk: the client gets what came, then an exception
    # message, as Bedrock ends a failed stream; the SDK raises it.
    first = openai_stream(["Hel"]).frames[0]
    failure = 'data: {"error": {"message": "upstream broke", "type": "server_error"}}\n\n'
    upstream.enqueue(SSEReply([first, failure], delay=0.2))
    path = f"/model/{BEDROCK_ID}/invoke-with-response-stream"
    resp = _post(gateway, path, {**BODY, "messages": MESSAGES})
    assert resp.status_code == 200
    with pytest.raises(StreamGrammarError):  # the Anthropic events stop half way
        validate_bedrock_stream(resp.content)
    stream = validate_bedrock_stream(resp.content, complete=False)
    assert stream.exception is not None
    kind, message = stream.exception
    assert kind in {"internalServerException", "serviceUnavailableException"}
    assert "upstream broke" in message


def test_sdk_raises_the_stream_exception(
    client: anthropic.AnthropicBedrock, upstream: ScriptedUpstream
) -> None:
    first = openai_stream(["Hel"]).frames[0]
    failure = 'data: {"error": {"message": "upstream broke", "type": "server_error"}}\n\n'
    upstream.enqueue(SSEReply([first, failure], delay=0.2))
    stream = client.messages.stream(model=BEDROCK_ID, max_tokens=64, messages=MESSAGES)
    with pytest.raises(anthropic.APIError, match="upstream broke"), stream as s:
        "".join(s.text_stream)


@pytest.mark.parametrize(
    ("path", "body", "key", "status", "kind", "words"),
    [
        (
            f"/model/{BEDROCK_ID}/invoke",
            {**BODY, "messages": MESSAGES},
            "sk-wrong",
            401,
            "UnrecognizedClientException",
            "key",
        ),
        (
            "/model/us.anthropic.claude-nope-v1:0/invoke",
            {**BODY, "messages": MESSAGES},
            KEY,
            404,
            "ResourceNotFoundException",
            "claude-nope",
        ),
        (
            "/model/openai-only/invoke",
            {**BODY, "messages": MESSAGES},
            KEY,
            404,
            "ResourceNotFoundException",
            "openai-only",
        ),
        (
            f"/model/{BEDROCK_ID}/invoke",
            {"anthropic_version": "vertex-2023-10-16", "max_tokens": 8, "messages": MESSAGES},
            KEY,
            400,
            "ValidationException",
            "anthropic_version",
        ),
        (
            f"/model/{BEDROCK_ID}/invoke",
            {"max_tokens": 8, "messages": MESSAGES},
            KEY,
            400,
            "ValidationException",
            "anthropic_version",
        ),
        (
            f"/model/{BEDROCK_ID}/invoke",
            {**BODY, "anthropic_beta": ["bad\r\nx: y"], "messages": MESSAGES},
            KEY,
            400,
            "ValidationException",
            "anthropic_beta.0",
        ),
        (
            f"/model/{BEDROCK_ID}/invoke",
            {"anthropic_version": "bedrock-2023-05-31", "messages": MESSAGES},
            KEY,
            400,
            "ValidationException",
            "max_tokens",
        ),
        (
            f"/model/{BEDROCK_ID}/converse-nope",
            {**BODY, "messages": MESSAGES},
            KEY,
            404,
            "ResourceNotFoundException",
            "no route",
        ),
    ],
)
def test_errors_in_bedrock_envelope(
    gateway: GatewayProcess,
    path: str,
    body: dict[str, object],
    key: str,
    status: int,
    kind: str,
    words: str,
) -> None:
    resp = _post(gateway, path, body, authorization=f"Bearer {key}")
    assert resp.status_code == status, resp.text
    assert resp.headers["x-amzn-errortype"] == kind
    assert resp.headers["x-amzn-requestid"].startswith("req_")
    assert set(resp.json()) == {"message"}
    assert words in resp.json()["message"]


def test_sdk_sees_the_status(gateway: GatewayProcess) -> None:
    bad = anthropic.AnthropicBedrock(
        api_key="sk-wrong", base_url=gateway.url, aws_region="us-east-1", max_retries=0
    )
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(model=BEDROCK_ID, max_tokens=8, messages=MESSAGES)
    assert caught.value.status_code == 401


def test_metered_in_the_ledger(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(openai_completion("x", usage=(1000, 100)))
    resp = _post(gateway, f"/model/{BEDROCK_ID}/invoke", {**BODY, "messages": MESSAGES})
    assert resp.status_code == 200
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not rows:
        usage = httpx.get(
            gateway.url + "/admin/usage?limit=100",
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=10,
        ).json()["data"]
        rows = [r for r in usage if r["input_tokens"] == 1000]
        time.sleep(0.05)
    (row,) = rows
    assert (row["model"], row["output_tokens"], row["status"]) == ("claude-test", 100, 200)
    assert row["cost_usd"] == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)
