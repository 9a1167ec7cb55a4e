"""Anthropic client -> Anthropic upstream: the body goes through with only `model` changed, the
provider's key replaces the client's, betas and version are forwarded, usage is read."""

from __future__ import annotations

import anthropic
import httpx
import orjson
import pytest

from tests.e2e.conftest import ANTHROPIC_UPSTREAM_KEY, CLIENT_KEY
from tests.support.anthropic_wire import anthropic_error, anthropic_message, anthropic_stream
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

MODEL = "test/passthrough"


def test_non_stream_body_is_forwarded_unchanged_but_for_model(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(anthropic_message("from claude", usage=(40, 6), model="claude-up"))
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "future_field": {"kept": True},
    }
    resp = httpx.post(
        gateway.url + "/anthropic/v1/messages?beta=true",
        json=body,
        headers={
            "x-api-key": CLIENT_KEY,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "interleaved-thinking-2025-05-14,made-up-2099",
        },
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    reply = resp.json()
    assert reply["model"] == MODEL
    assert reply["content"] == [{"type": "text", "text": "from claude"}]
    assert "switchboard-dropped" not in resp.headers

    (seen,) = upstream.received
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == ANTHROPIC_UPSTREAM_KEY
    assert "authorization" not in seen.headers
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14,made-up-2099"
    assert seen.json == {**body, "model": "claude-up"}


def test_stream_is_relayed_with_the_client_model(
    client: anthropic.Anthropic, gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(anthropic_stream(["Hel", "lo"], usage=(33, 7), model="claude-up"))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={
            "model": MODEL,
            "max_tokens": 9,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
        headers={"authorization": f"Bearer {CLIENT_KEY}", "anthropic-version": "2026-10-21"},
        timeout=10,
    ) as resp:
        raw = resp.read()
    validate_anthropic_stream(raw)
    msg = accumulate_message(raw)
    assert msg["model"] == MODEL
    assert msg["content"] == [{"type": "text", "text": "Hello"}]
    assert msg["usage"]["output_tokens"] == 7
    sent = upstream.received[0]
    assert sent.headers["anthropic-version"] == "2026-10-21"
    assert isinstance(sent.json, dict)
    assert sent.json["model"] == "claude-up"

    upstream.enqueue(anthropic_stream(["a", "b"], usage=(5, 2)))
    with client.messages.stream(
        model=MODEL, max_tokens=9, messages=[{"role": "user", "content": "x"}]
    ) as s:
        final = s.get_final_message()
    assert final.model == MODEL
    assert final.content[0].type == "text"
    assert final.content[0].text == "ab"


def test_upstream_errors_keep_their_meaning(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(anthropic_error(529, "overloaded_error", "Overloaded"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 529
    body = orjson.loads(caught.value.response.content)
    assert body["error"]["type"] == "overloaded_error"
    assert "Overloaded" in body["error"]["message"]
