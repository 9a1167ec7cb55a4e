"""The Anthropic surface over the same upstreams still works: this branch changed the shared
Anthropic upstream (translated calls beside the pass-through) and the error boundary."""

from __future__ import annotations

import anthropic
import pytest

from tests.support.gateway import GatewayProcess

from .conftest import CLIENT_KEY
from .upstreams import ScriptedServer

pytestmark = pytest.mark.e2e


def test_messages(gateway: GatewayProcess, model: str, upstream: ScriptedServer) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as c:
        message = c.messages.create(
            model=model, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
        with c.messages.stream(
            model=model, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            streamed = stream.get_final_message()
    assert [b.text for b in message.content if b.type == "text"] == ["Hello"]
    assert [b.text for b in streamed.content if b.type == "text"] == ["Hello"]
    assert message.model == model


def test_errors_keep_the_anthropic_envelope(gateway: GatewayProcess) -> None:
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as c,
        pytest.raises(anthropic.NotFoundError) as info,
    ):
        c.messages.create(
            model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.response.json()["type"] == "error"
    assert info.value.response.json()["error"]["type"] == "not_found_error"
