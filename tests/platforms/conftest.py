"""The real gateway in front of one scripted upstream that speaks both dialects: `claude-test`
is translated to OpenAI chat completions, `claude-relay` relayed to an Anthropic upstream. The
Bedrock and Vertex surfaces are driven by the Anthropic SDK's Bedrock and Vertex clients and by
raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

KEY = "sk-platforms-alice"
MASTER = "sk-platforms-master"


@pytest.fixture(scope="session")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def gateway(upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    base = upstream.base_url
    config = {
        "master_key": MASTER,
        "routing": {"max_attempts": 1},
        "keys": [{"name": "alice", "key": KEY}],
        "providers": [
            {"name": "up-openai", "kind": "openai", "base_url": base + "/v1", "api_key": "o"},
            {"name": "up-anthropic", "kind": "anthropic", "base_url": base, "api_key": "a"},
        ],
        "models": [
            {
                "id": "claude-test",
                "channels": [{"provider": "up-openai", "model": "upstream-gpt"}],
                "pricing": {"input": 3.0, "output": 15.0},
            },
            {
                "id": "claude-relay",
                "max_output_tokens": 64000,
                "channels": [{"provider": "up-anthropic", "model": "upstream-claude"}],
            },
            {
                "id": "openai-only",
                "endpoints": ["openai"],
                "channels": [{"provider": "up-openai", "model": "upstream-gpt"}],
            },
        ],
    }
    assert base.startswith("http://127.0.0.1:")
    with GatewayProcess(config) as gw:
        yield gw
