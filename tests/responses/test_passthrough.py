"""A provider that serves the Responses API itself (`responses_api: true`): the client's body is
relayed to its `/responses` unchanged but for `model`, and its reply and stream come back
unchanged but for `model`, with usage read on the way."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.support.mock_upstream import ScriptedUpstream
from tests.support.responses_wire import responses_reply, responses_stream

pytestmark = pytest.mark.e2e


def test_relayed_as_is(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(responses_reply("Relayed.", model="upstream-native"))
    # A built-in tool goes through too: the upstream runs it, not the gateway.
    search: Any = {"type": "web_search"}
    raw = client.responses.with_raw_response.create(
        model="gpt-native", input="hi", tools=[search], include=["reasoning.encrypted_content"]
    )
    resp = raw.parse()
    assert resp.output_text == "Relayed."
    assert resp.id == "resp_upstream_1"  # the upstream's own response
    assert resp.model == "gpt-native"
    assert raw.headers["switchboard-channel"] == "native/upstream-native"
    received = upstream.received[-1]
    assert received.path == "/v1/responses"
    assert received.headers["authorization"] == "Bearer u-n"
    assert received.json == {
        "model": "upstream-native",
        "input": "hi",
        "tools": [{"type": "web_search"}],
        "include": ["reasoning.encrypted_content"],
    }


def test_stream_relayed(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(responses_stream(["Rel", "ayed."], model="upstream-native"))
    deltas: list[str] = []
    with client.responses.stream(model="gpt-native", input="hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert deltas == ["Rel", "ayed."]
    assert final.model == "gpt-native"
    assert final.usage is not None
    assert final.usage.input_tokens == 12
    assert upstream.received[-1].path == "/v1/responses"
