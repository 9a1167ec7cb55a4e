"""Two scripted Bedrock servers (a primary and a backup) behind one real gateway process. The
gateway's environment is built from scratch (no host AWS settings can leak in), with the
instance-metadata lookup off: nothing here may leave loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.support.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY, BedrockServer
from tests.support.gateway import GatewayProcess

MASTER_KEY = "sk-master-bedrock"
CLIENT_KEY = "sk-client-bedrock"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA = "meta.llama3-3-70b-instruct-v1:0"


def provider(name: str, server: BedrockServer, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "bedrock", "region": REGION, "base_url": server.base_url, **extra}


KEYS = {"aws_access_key_id": "${TEST_AWS_KEY_ID}", "aws_secret_access_key": "${TEST_AWS_SECRET}"}


def gateway_config(primary: BedrockServer, backup: BedrockServer) -> dict[str, Any]:
    fast = {"connect": 2, "first_byte": 0.8, "idle": 0.8, "total": 5}
    claude = {"capabilities": {"thinking": True, "vision": True, "pdf": True}}
    return {
        "master_key": MASTER_KEY,
        "routing": {
            "max_attempts": 3,
            "backoff_seconds": 0.05,
            "max_retry_seconds": 3,
            "health": {"failures": 1000, "min_requests": 1000},
        },
        "providers": [
            provider("bedrock", primary, **KEYS),
            provider("backup", backup, **KEYS),
            provider("chain", primary),  # the AWS chain: the environment's keys
            provider("slow", primary, timeouts=fast, **KEYS),
            provider("tight", primary, max_event_bytes=2048, **KEYS),
            provider(
                "wrong",
                primary,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key="not-the-secret-at-all-0123456789",
            ),
        ],
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "models": [
            {"id": "test/claude", **claude, "channels": [{"provider": "bedrock", "model": CLAUDE}]},
            {"id": "test/llama", "channels": [{"provider": "bedrock", "model": LLAMA}]},
            {
                "id": "test/claude-failover",
                "channels": [
                    {"provider": "bedrock", "model": CLAUDE, "priority": 0},
                    {"provider": "backup", "model": CLAUDE, "priority": 1},
                ],
            },
            {
                "id": "test/llama-failover",
                "channels": [
                    {"provider": "bedrock", "model": LLAMA, "priority": 0},
                    {"provider": "backup", "model": LLAMA, "priority": 1},
                ],
            },
            {"id": "test/chain", "channels": [{"provider": "chain", "model": LLAMA}]},
            {"id": "test/slow", "channels": [{"provider": "slow", "model": LLAMA}]},
            {"id": "test/tight", "channels": [{"provider": "tight", "model": LLAMA}]},
            {"id": "test/wrong", "channels": [{"provider": "wrong", "model": CLAUDE}]},
        ],
    }


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """HOME in a temp dir (no ~/.aws of the host's), instance metadata off."""
    return {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true", **extra}


@pytest.fixture(scope="module")
def primary() -> Iterator[BedrockServer]:
    with BedrockServer() as server:
        yield server


@pytest.fixture(scope="module")
def backup() -> Iterator[BedrockServer]:
    with BedrockServer() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    primary: BedrockServer, backup: BedrockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    env = clean_env(
        tmp_path_factory.mktemp("home"),
        TEST_AWS_KEY_ID=ACCESS_KEY,
        TEST_AWS_SECRET=SECRET_KEY,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    with GatewayProcess(gateway_config(primary, backup), env=env, inherit_env=False) as gw:
        yield gw
    output = gw.output()
    for secret in (SECRET_KEY, CLIENT_KEY, MASTER_KEY):
        assert secret not in output, "a secret reached the gateway's log"


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    for name in ("primary", "backup"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


@pytest.fixture
def claude_client(gateway: GatewayProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
    ) as c:
        yield c


@pytest.fixture
def openai_client(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as c:
        yield c
