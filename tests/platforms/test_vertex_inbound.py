"""The Vertex AI rawPredict surface, driven by the Anthropic SDK's Vertex client (the Switchboard
key as its access token) and raw HTTP; every stream passes the Anthropic stream grammar."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream, openai_completion, openai_stream
from tests.support.stream_validator import validate_anthropic_stream

from .conftest import KEY

VERTEX_ID = "claude-test@20250101"
MESSAGES: list[MessageParam] = [{"role": "user", "content": "hi"}]
PREFIX = "/v1/projects/p/locations/us-east5/publishers/anthropic/models"


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        access_token=KEY,
        base_url=gateway.url + "/vertex/v1",
        project_id="p",
        region="us-east5",
        max_retries=0,
    )


def test_raw_predict(client: anthropic.AnthropicVertex, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(openai_completion("from vertex", usage=(9, 2)))
    before = len(upstream.received)
    message = client.messages.create(model=VERTEX_ID, max_tokens=32, messages=MESSAGES)
    assert message.content[0].type == "text"
    assert message.content[0].text == "from vertex"
    assert message.model == "claude-test"
    sent = upstream.received[before:][-1].json
    assert isinstance(sent, dict)
    assert sent["model"] == "upstream-gpt"


def test_stream_raw_predict(client: anthropic.AnthropicVertex, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(openai_stream(["a", "b", "c"]))
    with client.messages.stream(model=VERTEX_ID, max_tokens=32, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "abc"
        assert stream.get_final_message().stop_reason == "end_turn"


def test_stream_grammar_and_relayed_betas(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.received)
    body = {
        "anthropic_version": "vertex-2023-10-16",
        "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        "max_tokens": 32,
        "stream": True,
        "messages": MESSAGES,
    }
    resp = httpx.post(
        gateway.url + PREFIX + "/claude-relay@20250101:streamRawPredict",
        content=json.dumps(body),
        headers={"authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = validate_anthropic_stream(resp.content)
    assert events[0]["message"]["model"] == "claude-relay"
    sent = upstream.received[before:][-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert isinstance(sent.json, dict)
    assert "anthropic_version" not in sent.json
    assert "anthropic_beta" not in sent.json
    assert sent.json["model"] == "upstream-claude"
    assert sent.json["stream"] is True


def test_count_tokens(client: anthropic.AnthropicVertex) -> None:
    counted = client.messages.count_tokens(model=VERTEX_ID, messages=MESSAGES)
    assert counted.input_tokens > 0


@pytest.mark.parametrize(
    ("path", "key", "status", "google", "words"),
    [
        (f"{PREFIX}/{VERTEX_ID}:rawPredict", "sk-wrong", 401, "UNAUTHENTICATED", "key"),
        (f"{PREFIX}/claude-nope@20250101:rawPredict", KEY, 404, "NOT_FOUND", "claude-nope"),
        (f"{PREFIX}/{VERTEX_ID}:generateContent", KEY, 404, "NOT_FOUND", "no route"),
        (
            "/v1/projects/p/locations/l/publishers/google/models/gemini:rawPredict",
            KEY,
            404,
            "NOT_FOUND",
            "publishers/anthropic",
        ),
    ],
)
def test_errors_in_google_envelope(
    gateway: GatewayProcess, path: str, key: str, status: int, google: str, words: str
) -> None:
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 8, "messages": MESSAGES}
    resp = httpx.post(
        gateway.url + path,
        content=json.dumps(body),
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "status"}
    assert (error["code"], error["status"]) == (status, google)
    assert words in error["message"]
    assert resp.headers["request-id"].startswith("req_")


def test_bad_version_names_the_field(client: anthropic.AnthropicVertex) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=VERTEX_ID,
            max_tokens=8,
            messages=MESSAGES,
            extra_body={"anthropic_version": "bedrock-2023-05-31"},
        )
    assert "anthropic_version" in str(caught.value)
