"""Vertex AI upstreams (`kind: vertex`) end to end: Anthropic models through rawPredict and
streamRawPredict, Gemini models through generateContent, with an OAuth access token that
google-auth fetched from a token endpoint on loopback with a throwaway service account."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from tests.google.conftest import ACCESS_TOKEN, CLIENT_KEY, LOCATION, PROJECT, VERTEX_CLAUDE
from tests.google.helpers import body, post, stream
from tests.support.anthropic_wire import anthropic_message, anthropic_stream
from tests.support.gateway import GatewayProcess
from tests.support.gemini_wire import (
    gemini_error,
    gemini_response,
    gemini_stream,
    text_part,
    usage_metadata,
)
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.stream_validator import accumulate_message

PREFIX = f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers"


@pytest.fixture
def oai(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as c:
        yield c


def test_claude_through_raw_predict(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(anthropic_message("Bonjour", usage=(12, 3)))
    resp = post(gateway, body("vertex/claude", system="Be brief."))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"] == [{"type": "text", "text": "Bonjour"}]
    assert resp.json()["model"] == "vertex/claude"
    (seen,) = upstream.received
    assert seen.path == f"{PREFIX}/anthropic/models/{VERTEX_CLAUDE}:rawPredict"
    assert seen.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert isinstance(seen.json, dict)
    assert "model" not in seen.json
    assert seen.json["anthropic_version"] == "vertex-2023-10-16"
    assert seen.json["messages"] == [{"role": "user", "content": "Hello"}]


def test_claude_stream_through_stream_raw_predict(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(anthropic_stream(["Hel", "lo"], usage=(9, 2)))
    resp, raw = stream(gateway, body("vertex/claude"))
    assert resp.status_code == 200
    message = accumulate_message(raw)
    assert message["content"] == [{"type": "text", "text": "Hello"}]
    (seen,) = upstream.received
    assert seen.path == f"{PREFIX}/anthropic/models/{VERTEX_CLAUDE}:streamRawPredict"
    assert isinstance(seen.json, dict)
    assert seen.json["stream"] is True


def test_openai_sdk_tool_call_through_vertex_claude(
    oai: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(
        anthropic_message(
            content=[{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}],
            stop_reason="tool_use",
        )
    )
    done = oai.chat.completions.create(
        model="vertex/claude",
        messages=[{"role": "user", "content": "find x"}],
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
            }
        ],
    )
    calls = done.choices[0].message.tool_calls
    assert calls is not None
    assert isinstance(calls[0], ChatCompletionMessageFunctionToolCall)
    assert calls[0].function.name == "lookup"
    assert done.choices[0].finish_reason == "tool_calls"


def test_gemini_through_vertex(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(gemini_response("from vertex", usage=usage_metadata(8, 2)))
    resp = post(gateway, body("vertex/gemini"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"] == [{"type": "text", "text": "from vertex"}]
    (seen,) = upstream.received
    assert seen.path == f"{PREFIX}/google/models/gemini-2.5-pro:generateContent"
    assert seen.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "x-goog-api-key" not in seen.headers

    upstream.reset()
    upstream.enqueue(gemini_stream([[text_part("str")], [text_part("eamed")]]))
    resp2, raw = stream(gateway, body("vertex/gemini"))
    assert resp2.status_code == 200
    assert accumulate_message(raw)["content"] == [{"type": "text", "text": "streamed"}]
    (seen,) = upstream.received
    assert seen.path == f"{PREFIX}/google/models/gemini-2.5-pro:streamGenerateContent"
    assert seen.query == "alt=sse"


def test_the_token_comes_from_a_signed_service_account_grant_once(
    gateway: GatewayProcess, upstream: ScriptedUpstream, token_server: ScriptedUpstream
) -> None:
    with anthropic.Anthropic(
        base_url=gateway.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
    ) as client:
        for _ in range(3):
            upstream.enqueue(anthropic_message("ok"))
            client.messages.create(
                model="vertex/claude", max_tokens=16, messages=[{"role": "user", "content": "x"}]
            )
    # One token for the gateway's life so far (valid an hour): requests do not fetch it.
    grants = [r for r in token_server.received if r.path == "/token"]
    assert len(grants) == 1
    form = parse_qs(grants[0].body.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims_b64 = form["assertion"][0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    assert claims["iss"] == f"switchboard@{PROJECT}.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"


def test_a_refused_token_is_fetched_anew(
    gateway: GatewayProcess, upstream: ScriptedUpstream, token_server: ScriptedUpstream
) -> None:
    post(gateway, body("vertex/claude"))  # a token in hand
    grants = len(token_server.received)
    upstream.reset()
    upstream.enqueue(
        gemini_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
        anthropic_message("after a new token"),
    )
    resp = post(gateway, body("vertex/claude"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "after a new token"
    assert len(token_server.received) == grants + 1
