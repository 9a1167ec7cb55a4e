"""One scripted upstream (both dialects) and one real gateway subprocess for the e2e suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.support.gateway import GatewayProcess, free_port
from tests.support.mock_upstream import ScriptedUpstream

MASTER_KEY = "sk-master-secret-789"
CLIENT_KEY = "sk-client-secret-456"
UPSTREAM_KEY = "sk-upstream-secret-123"
ANTHROPIC_UPSTREAM_KEY = "sk-ant-upstream-secret-321"


def gateway_config(up: ScriptedUpstream) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: connection refused
    fast = {"connect": 2, "first_byte": 1.5, "idle": 1.5, "total": 5}
    return {
        "master_key": MASTER_KEY,
        "server": {"max_body_bytes": 256 * 1024},
        # Failover to another channel, but no back-off and retry of the same one: these tests
        # see each upstream error as mapped (tests/resilience covers the retries).
        "routing": {"max_retry_seconds": 1, "backoff_seconds": 5},
        "providers": [
            {"name": "up", "kind": "openai", "base_url": up.openai_base, "api_key": UPSTREAM_KEY},
            {
                "name": "ant",
                "kind": "anthropic",
                "base_url": up.anthropic_base,
                "api_key": ANTHROPIC_UPSTREAM_KEY,
            },
            {"name": "slow", "kind": "openai", "base_url": up.openai_base, "timeouts": fast},
            {"name": "dead", "kind": "openai", "base_url": dead},
            {
                "name": "vllm",
                "kind": "openai",
                "base_url": up.openai_base,
                "tokenize_url": up.base_url + "/tokenize",
            },
        ],
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "models": [
            {
                "id": "moonshotai/kimi-k2-instruct",
                "aliases": ["claude-*"],
                "pricing": {"input": 1.0, "output": 2.0},
                "channels": [{"provider": "up", "model": "kimi-k2-0905-preview"}],
            },
            {
                "id": "test/clamped",
                "max_output_tokens": 1000,
                "capabilities": {"vision": False},
                "channels": [{"provider": "up", "model": "small-model"}],
            },
            {
                "id": "test/thinker",
                "capabilities": {"thinking": True},
                "reasoning": {"control": "thinking", "echo": True},
                "channels": [{"provider": "up", "model": "deepseek-flash"}],
            },
            {"id": "test/passthrough", "channels": [{"provider": "ant", "model": "claude-up"}]},
            {"id": "test/slow", "channels": [{"provider": "slow", "model": "slow-model"}]},
            {
                "id": "test/failover",
                "channels": [
                    {"provider": "dead", "model": "gone-first", "priority": 0},
                    {"provider": "up", "model": "backup-model", "priority": 1},
                ],
            },
            {"id": "test/dead", "channels": [{"provider": "dead", "model": "gone"}]},
            {"id": "test/vllm", "channels": [{"provider": "vllm", "model": "Qwen/Qwen3-8B"}]},
            {
                "id": "test/openai-only",
                "endpoints": ["openai"],
                "channels": [{"provider": "up", "model": "x"}],
            },
        ],
    }


@pytest.fixture(scope="session")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def gateway(upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    with GatewayProcess(gateway_config(upstream)) as gw:
        yield gw
    output = gw.output()
    for secret in (MASTER_KEY, CLIENT_KEY, UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY):
        assert secret not in output, "a secret reached the gateway's log"


@pytest.fixture(autouse=True)
def _fresh_upstream(upstream: ScriptedUpstream) -> None:
    upstream.reset()


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[anthropic.Anthropic]:
    """The current SDK as a user configures it: base URL with /anthropic, key as Bearer."""
    with anthropic.Anthropic(
        base_url=gateway.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
    ) as c:
        yield c
