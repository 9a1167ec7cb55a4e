"""`GET /v1/models` in Anthropic shape with cursor pagination, and count_tokens."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.e2e.conftest import CLIENT_KEY
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import JsonReply, ScriptedUpstream

SERVED = [
    "moonshotai/kimi-k2-instruct",
    "test/clamped",
    "test/thinker",
    "test/passthrough",
    "test/slow",
    "test/failover",
    "test/dead",
    "test/vllm",
]


def get(gw: GatewayProcess, path: str) -> httpx.Response:
    return httpx.get(gw.url + path, headers={"x-api-key": CLIENT_KEY}, timeout=5)


def test_list_pages_with_cursors(gateway: GatewayProcess) -> None:
    first = get(gateway, "/v1/models?limit=4").json()
    assert [m["id"] for m in first["data"]] == SERVED[:4]
    assert (first["has_more"], first["first_id"], first["last_id"]) == (True, SERVED[0], SERVED[3])
    rest = get(gateway, f"/anthropic/v1/models?limit=4&after_id={first['last_id']}").json()
    assert [m["id"] for m in rest["data"]] == SERVED[4:8]
    assert rest["has_more"] is False
    back = get(gateway, f"/v1/models?limit=2&before_id={SERVED[4]}").json()
    assert [m["id"] for m in back["data"]] == SERVED[2:4]
    assert back["has_more"] is True
    info = first["data"][1]
    assert info["type"] == "model"
    assert info["max_tokens"] == 1000
    assert info["capabilities"]["image_input"] == {"supported": False}
    assert info["lifecycle"] == "active"
    assert "created_at" in info
    assert "display_name" in info


def test_sdk_lists_and_retrieves(client: anthropic.Anthropic) -> None:
    ids = [m.id for m in client.models.list(limit=2)]
    assert ids == SERVED  # the SDK follows the cursors to the end
    assert "test/openai-only" not in ids
    assert client.models.retrieve("test/clamped").max_tokens == 1000
    # An alias resolves to the catalogue model; ids with slashes are one path segment.
    assert client.models.retrieve("claude-opus-5").id == "moonshotai/kimi-k2-instruct"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")


def test_bad_limit_names_the_parameter(gateway: GatewayProcess) -> None:
    resp = get(gateway, "/v1/models?limit=0")
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("limit:")


def test_count_tokens_estimates_translated_models(client: anthropic.Anthropic) -> None:
    raw = client.messages.with_raw_response.count_tokens(
        model="moonshotai/kimi-k2-instruct",
        system="You are a helpful assistant.",
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "What is the weather in Paris today? " * 20}],
    )
    assert raw.headers["switchboard-token-count"] == "estimate"
    small = client.messages.count_tokens(
        model="moonshotai/kimi-k2-instruct", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().input_tokens > 10 * small.input_tokens > 0


def test_count_tokens_is_exact_through_pass_through(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    raw = client.messages.with_raw_response.count_tokens(
        model="test/passthrough", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().input_tokens == 42  # what the scripted Anthropic upstream counted
    assert raw.headers["switchboard-token-count"] == "exact"
    (seen,) = upstream.received
    assert seen.path == "/v1/messages/count_tokens"
    assert isinstance(seen.json, dict)
    assert seen.json["model"] == "claude-up"


def test_count_tokens_is_exact_through_a_tokenize_endpoint(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(JsonReply({"count": 77, "max_model_len": 32768, "tokens": []}))
    raw = client.messages.with_raw_response.count_tokens(
        model="test/vllm",
        system="sys",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert raw.parse().input_tokens == 77
    assert raw.headers["switchboard-token-count"] == "exact"
    (seen,) = upstream.received
    assert seen.path == "/tokenize"
    assert seen.json == {
        "model": "Qwen/Qwen3-8B",
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
    }


def test_count_tokens_falls_back_to_the_estimate_when_the_counter_fails(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(JsonReply({"error": "down"}, status=503))
    raw = client.messages.with_raw_response.count_tokens(
        model="test/vllm", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["switchboard-token-count"] == "estimate"
    assert raw.parse().input_tokens > 0
