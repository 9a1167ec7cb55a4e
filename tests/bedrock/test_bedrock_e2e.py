"""Bedrock end to end: the real Anthropic and OpenAI SDKs, a real gateway, scripted Bedrock
servers that check every request's SigV4 signature and answer in Bedrock's wire format (the AWS
event-stream framing for streams)."""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.anthropic_wire import ToolUseBlock, anthropic_stream_events
from tests.support.bedrock_upstream import SECRET_KEY, BedrockServer, ResetReply
from tests.support.bedrock_wire import (
    EVENTSTREAM,
    bedrock_error,
    chunk,
    claude_chunk,
    claude_stream,
    converse_message,
    converse_stream,
    converse_stream_messages,
    exception,
)
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import HangReply, JsonReply, SSEReply
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

from .conftest import CLIENT_KEY

pytestmark = pytest.mark.e2e

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CLAUDE_PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # as sent: %3A
LLAMA_PATH = "/model/meta.llama3-3-70b-instruct-v1:0"


def ask(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}


def raw_stream(gateway: GatewayProcess, body: dict[str, Any], beta: str | None = None) -> bytes:
    headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
    if beta:
        headers["anthropic-beta"] = beta
    with httpx.stream(
        "POST",
        gateway.url + "/anthropic/v1/messages",
        json={**body, "stream": True},
        headers=headers,
        timeout=10,
    ) as resp:
        assert resp.status_code == 200, resp.read()
        return resp.read()


def test_claude_create_relays_the_body_with_bedrock_changes(
    claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    message = claude_client.messages.create(
        model="test/claude",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07, interleaved-thinking-2025-05-14"},
    )
    assert message.model == "test/claude"
    assert message.content[0].type == "text"
    assert message.content[0].text == "ok"
    sent = primary.received[0]
    assert sent.path == CLAUDE_PATH + "/invoke"
    assert isinstance(sent.json, dict)
    assert "model" not in sent.json
    assert "stream" not in sent.json
    assert sent.json["anthropic_version"] == "bedrock-2023-05-31"
    assert sent.json["anthropic_beta"] == [
        "context-1m-2025-08-07",
        "interleaved-thinking-2025-05-14",
    ]
    assert sent.json["messages"] == [{"role": "user", "content": "hi"}]
    assert "anthropic-beta" not in sent.headers
    assert "x-api-key" not in sent.headers
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID")


def test_claude_stream_with_thinking_and_tools_is_anthropic_sse(
    gateway: GatewayProcess, claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    tool = ToolUseBlock("get_weather", ['{"city": ', '"Paris"}'], id="toolu_bdrk_1")
    # Split into 7-byte writes: event-stream messages arrive cut anywhere.
    primary.enqueue(
        claude_stream(["The ", "weather"], thinking="Let me look.", tool_uses=[tool], split=7)
    )
    body = {
        "model": "test/claude",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    }
    raw = raw_stream(gateway, body, beta="fine-grained-tool-streaming-2025-05-14")
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert msg["model"] == "test/claude"
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert msg["content"][0]["signature"] == "sig_mock"  # relayed: Bedrock's Claude signed it
    assert msg["content"][2]["input"] == {"city": "Paris"}
    sent = primary.received[0]
    assert sent.path == CLAUDE_PATH + "/invoke-with-response-stream"
    assert isinstance(sent.json, dict)
    assert sent.json["anthropic_beta"] == ["fine-grained-tool-streaming-2025-05-14"]
    assert sent.headers["accept"] == "application/vnd.amazon.eventstream"

    # The SDK's own stream helper over the same relay.
    primary.enqueue(claude_stream(["Hel", "lo"], usage=(12, 4)))
    with claude_client.messages.stream(
        model="test/claude", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text"
    assert final.content[0].text == "Hello"
    assert final.usage.input_tokens == 12
    assert final.usage.output_tokens == 4


def test_openai_client_reaches_claude_through_the_ir(
    openai_client: openai.OpenAI, primary: BedrockServer
) -> None:
    done = openai_client.chat.completions.create(
        model="test/claude", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert done.choices[0].message.content == "ok"
    sent = primary.received[0]
    assert sent.path == CLAUDE_PATH + "/invoke"
    assert isinstance(sent.json, dict)
    assert sent.json["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent.json

    primary.enqueue(claude_stream(["Hel", "lo"], split=5))
    chunks = list(
        openai_client.chat.completions.create(
            model="test/claude",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello"
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason == "stop"


def test_converse_model_with_the_anthropic_sdk(
    gateway: GatewayProcess, claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    primary.enqueue(converse_message("", tool=("tooluse_1", "get_weather", {"city": "Oslo"})))
    message = claude_client.messages.create(
        model="test/llama",
        max_tokens=100,
        system="Be brief.",
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
    )
    assert message.model == "test/llama"
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "tool_use"
    assert message.content[0].input == {"city": "Oslo"}
    sent = primary.received[0]
    assert sent.path == LLAMA_PATH + "/converse"
    assert sent.json == {
        "inferenceConfig": {"maxTokens": 100},
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": "Weather in Oslo?"}]}],
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "get_weather",
                        "description": "The weather in a city",
                        "inputSchema": {"json": WEATHER["input_schema"]},
                    }
                }
            ]
        },
    }

    primary.enqueue(
        converse_stream(
            ["It is ", "sunny"],
            reasoning="Checking.",
            tool=("tooluse_2", "get_weather", ['{"city":', '"Oslo"}']),
            stop_reason="tool_use",
            usage=(30, 9),
            split=11,
        )
    )
    raw = raw_stream(
        gateway,
        {
            "model": "test/llama",
            "max_tokens": 100,
            "tools": [WEATHER],
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "?"}],
                },
            ],
        },
    )
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert [b["type"] for b in msg["content"]] == ["thinking", "text", "tool_use"]
    assert msg["content"][1]["text"] == "It is sunny"
    assert msg["content"][2]["input"] == {"city": "Oslo"}
    assert msg["stop_reason"] == "tool_use"
    assert msg["usage"]["input_tokens"] == 30
    assert msg["usage"]["output_tokens"] == 9
    sent = primary.received[1]
    assert sent.path == LLAMA_PATH + "/converse-stream"
    assert isinstance(sent.json, dict)
    assert sent.json["messages"][1] == {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}],
    }
    assert sent.json["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "?"}]}}],
    }


def test_converse_model_with_the_openai_sdk(
    openai_client: openai.OpenAI, primary: BedrockServer
) -> None:
    primary.enqueue(converse_message("bonjour", usage=(7, 3)))
    done = openai_client.chat.completions.create(
        model="test/llama",
        max_tokens=32,
        temperature=0.2,
        messages=[{"role": "user", "content": "hello"}],
    )
    assert done.choices[0].message.content == "bonjour"
    assert done.usage is not None
    assert done.usage.prompt_tokens == 7
    sent = primary.received[0]
    assert isinstance(sent.json, dict)
    assert sent.json["inferenceConfig"] == {"maxTokens": 32, "temperature": 0.2}

    primary.enqueue(converse_stream(["bon", "jour"], split=3))
    chunks = list(
        openai_client.chat.completions.create(
            model="test/llama",
            max_tokens=32,
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "bonjour"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_a_wrong_secret_is_refused_and_the_client_is_told_why(
    claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude_client.messages.create(
            model="test/wrong", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    text = str(caught.value)
    assert "rejected the gateway's credentials (403)" in text
    assert "operator" in text
    assert primary.refused >= 1


def test_credentials_from_the_environment_chain(
    claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    message = claude_client.messages.create(
        model="test/chain", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "ok"
    assert primary.refused == 0


@pytest.mark.parametrize(
    ("status", "kind"), [(429, "ThrottlingException"), (503, "ServiceUnavailableException")]
)
def test_throttling_fails_over_to_the_second_channel(
    claude_client: anthropic.Anthropic,
    primary: BedrockServer,
    backup: BedrockServer,
    status: int,
    kind: str,
) -> None:
    primary.enqueue(bedrock_error(status, kind, "Too many requests, please wait."))
    message = claude_client.messages.create(
        model="test/claude-failover", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text"
    assert len(primary.received) == 1
    assert len(backup.received) == 1


def test_an_exception_before_the_first_event_fails_over(
    gateway: GatewayProcess, primary: BedrockServer, backup: BedrockServer
) -> None:
    primary.enqueue(
        SSEReply(
            [exception("throttlingException", "Too many tokens")],
            content_type="application/vnd.amazon.eventstream",
        )
    )
    backup.enqueue(converse_stream(["from ", "backup"]))
    raw = raw_stream(
        gateway,
        ask("test/llama-failover"),
    )
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["content"][0]["text"] == "from backup"
    assert len(primary.received) == 1
    assert len(backup.received) == 1


def test_model_not_ready_is_retried(
    claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    not_ready = bedrock_error(429, "ModelNotReadyException", "Model is not ready for inference.")
    primary.enqueue(not_ready)
    message = claude_client.messages.create(
        model="test/llama", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "ok"
    assert len(primary.received) == 2


def test_a_validation_error_is_the_clients_400_and_not_retried(
    openai_client: openai.OpenAI, primary: BedrockServer, backup: BedrockServer
) -> None:
    primary.enqueue(bedrock_error(400, "ValidationException", "messages.0.content is too long"))
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model="test/llama-failover", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert "messages.0.content is too long" in str(caught.value)
    assert len(backup.received) == 0


def test_an_upstream_message_quoting_the_secret_is_redacted(
    claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    primary.enqueue(bedrock_error(400, "ValidationException", f"bad request for {SECRET_KEY}"))
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude_client.messages.create(
            model="test/llama", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert "bad request for" in str(caught.value)
    assert SECRET_KEY not in str(caught.value)


def test_an_exception_mid_stream_ends_the_stream_with_an_error_event(
    gateway: GatewayProcess, primary: BedrockServer
) -> None:
    events = anthropic_stream_events(["partial"])
    frames: list[str | bytes] = [claude_chunk(e) for e in events[:4]]
    frames.append(exception("modelStreamErrorException", "The model stopped"))
    primary.enqueue(SSEReply(frames, content_type="application/vnd.amazon.eventstream"))
    raw = raw_stream(gateway, ask("test/claude"))
    validate_anthropic_stream(raw)
    last = raw.decode().strip().split("\n\n")[-1]
    assert last.startswith("event: error")
    assert "modelStreamErrorException" in last
    assert "The model stopped" in last


def test_a_reset_mid_stream_ends_the_stream_with_an_error_event(
    gateway: GatewayProcess, primary: BedrockServer
) -> None:
    frames = converse_stream_messages(["partial ", "answer"])[:2]
    primary.enqueue(ResetReply(frames))
    raw = raw_stream(gateway, ask("test/llama"))
    validate_anthropic_stream(raw)
    events = raw.decode().strip().split("\n\n")
    assert any("partial " in e for e in events)
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["type"] == "error"
    assert error["error"]["type"] == "api_error"


def test_a_hang_times_out(claude_client: anthropic.Anthropic, primary: BedrockServer) -> None:
    primary.enqueue(HangReply(5), HangReply(5), HangReply(5))  # each attempt hangs
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude_client.messages.create(
            model="test/slow", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 504
    assert "timed out" in str(caught.value)


def test_a_message_over_the_size_cap_fails_the_stream(
    gateway: GatewayProcess, primary: BedrockServer
) -> None:
    huge = converse_stream(["x" * 5000])
    primary.enqueue(huge, huge, huge)  # every attempt
    with httpx.stream(
        "POST",
        gateway.url + "/anthropic/v1/messages",
        json={**ask("test/tight"), "stream": True},
        headers={"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"},
        timeout=10,
    ) as resp:
        raw = resp.read()
    # Cut before or after the first event reached the client: an error status, or the stream
    # ends in an error event; either way no 5000-byte event got through.
    if resp.status_code == 200:
        validate_anthropic_stream(raw)
        assert raw.rstrip().split(b"\n\n")[-1].startswith(b"event: error")
    else:
        assert resp.status_code == 502
    assert b"over the 2048-byte limit" in raw
    assert b"x" * 5000 not in raw


def test_count_tokens_through_bedrock_count_tokens(
    claude_client: anthropic.Anthropic, primary: BedrockServer
) -> None:
    primary.enqueue(JsonReply({"inputTokens": 42}))
    raw = claude_client.messages.with_raw_response.count_tokens(
        model="test/claude",
        system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    assert raw.parse().input_tokens == 42
    assert raw.headers["switchboard-token-count"] == "exact"
    sent = primary.received[-1]
    # CountTokens names the foundation model (no `us.` inference-profile prefix), signed.
    assert sent.path == "/model/anthropic.claude-sonnet-4-5-20250929-v1:0/count-tokens"
    assert primary.refused == 0
    assert isinstance(sent.json, dict)
    invoke = json.loads(sent.json["input"]["invokeModel"]["body"])
    assert invoke == {
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["context-1m-2025-08-07"],
        "max_tokens": 1,
    }


NOT_JSON = {"bytes": base64.b64encode(b"{not json").decode()}
NO_BYTES = {"p": "abcdefgh"}


def claude_frames(tail: list[bytes], *, cut: int = 4) -> SSEReply:
    """The first `cut` events of a Claude stream, then `tail`, each a read of its own."""
    frames: list[str | bytes] = [claude_chunk(e) for e in anthropic_stream_events(["Hel"])[:cut]]
    return SSEReply([*frames, *tail], delay=0.05, content_type=EVENTSTREAM)


def openai_stream_text(client: openai.OpenAI, seen: list[str]) -> None:
    """A streamed chat completion of test/claude, its text put in `seen` as it comes."""
    stream = client.chat.completions.create(
        model="test/claude",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
    )
    for c in stream:
        seen.extend(choice.delta.content or "" for choice in c.choices)


NOT_ANTHROPIC = "a chunk that is not an Anthropic event"
NO_BYTES_SAID = "a chunk without bytes"
CUT = "the stream ended before message_stop"
# A Claude stream that goes wrong after its first events: the tail, then what the error says
# relayed (an Anthropic client) and translated (an OpenAI client).
BROKEN_CLAUDE = [
    pytest.param([chunk(NOT_JSON)], NOT_ANTHROPIC, "bad stream event", id="not-json"),
    pytest.param([chunk(NO_BYTES)], NOT_ANTHROPIC, NO_BYTES_SAID, id="no-bytes"),
    pytest.param([chunk({"bytes": "not base64!"})], NOT_ANTHROPIC, NO_BYTES_SAID, id="not-base64"),
    pytest.param(
        [chunk({"bytes": ""})], NOT_ANTHROPIC, "a reply the gateway cannot read", id="empty"
    ),
    pytest.param([], CUT, CUT, id="cut"),
]


@pytest.mark.parametrize(("tail", "message", "_translated"), BROKEN_CLAUDE)
def test_a_relayed_claude_stream_that_goes_wrong_ends_in_an_error_event(
    gateway: GatewayProcess,
    primary: BedrockServer,
    tail: list[bytes],
    message: str,
    _translated: str,
) -> None:
    primary.enqueue(claude_frames(tail))
    raw = raw_stream(gateway, ask("test/claude"))
    validate_anthropic_stream(raw)
    events = raw.decode().strip().split("\n\n")
    assert any('"Hel"' in e for e in events)  # what came before went out
    assert events[-1].startswith("event: error")
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["error"]["type"] == "api_error"
    assert message in error["error"]["message"]


@pytest.mark.parametrize(("tail", "_relayed", "message"), BROKEN_CLAUDE)
def test_a_translated_claude_stream_that_goes_wrong_ends_in_an_error(
    openai_client: openai.OpenAI,
    primary: BedrockServer,
    tail: list[bytes],
    _relayed: str,
    message: str,
) -> None:
    primary.enqueue(claude_frames(tail))
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        openai_stream_text(openai_client, seen)
    assert "".join(seen) == "Hel"
    assert message in caught.value.message


def test_what_follows_message_stop_in_a_claude_stream_is_not_read(
    gateway: GatewayProcess, openai_client: openai.OpenAI, primary: BedrockServer
) -> None:
    # The events of one read after the last one are never looked at, relayed or translated.
    events = [claude_chunk(e) for e in anthropic_stream_events(["Hel", "lo"])]
    whole = SSEReply([b"".join([*events, chunk(NOT_JSON)])], content_type=EVENTSTREAM)
    primary.enqueue(whole, whole)
    raw = raw_stream(gateway, ask("test/claude"))
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["content"][0]["text"] == "Hello"
    assert raw.rstrip().split(b"\n\n")[-1].startswith(b"event: message_stop")
    seen: list[str] = []
    openai_stream_text(openai_client, seen)
    assert "".join(seen) == "Hello"


def test_a_broken_chunk_in_the_first_read_is_retried_before_anything_is_sent(
    gateway: GatewayProcess, primary: BedrockServer
) -> None:
    # The relayed events of the read before it are not sent: the stream fails before its first
    # byte, so the request is tried again.
    first = [claude_chunk(e) for e in anthropic_stream_events(["Hel"])[:4]]
    broken = SSEReply([b"".join([*first, chunk(NOT_JSON)])], content_type=EVENTSTREAM)
    primary.enqueue(broken, claude_stream(["Hel", "lo"]))
    raw = raw_stream(gateway, ask("test/claude"))
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["content"][0]["text"] == "Hello"
    assert len(primary.received) == 2


def _corrupt(message: bytes) -> bytes:
    return message[:-5] + bytes([message[-5] ^ 1]) + message[-4:]  # the payload's last byte


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (lambda m: m[:-3], "the stream ended inside a message"),
        (_corrupt, "CRC"),
    ],
    ids=["cut-inside", "corrupt"],
)
def test_an_event_stream_that_breaks_ends_in_an_error_event(
    gateway: GatewayProcess, primary: BedrockServer, tail: Any, message: str
) -> None:
    messages = converse_stream_messages(["partial ", "answer"])
    frames: list[str | bytes] = [*messages[:2], tail(messages[2])]
    primary.enqueue(SSEReply(frames, delay=0.05, content_type=EVENTSTREAM))
    raw = raw_stream(gateway, ask("test/llama"))
    validate_anthropic_stream(raw)
    events = raw.decode().strip().split("\n\n")
    assert any("partial " in e for e in events)
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["error"]["type"] == "api_error"
    assert message in error["error"]["message"]
