"""Two scripted upstreams (a primary and a backup) behind one real gateway process, with short
timeouts and a quick back-off, so every fault case runs in about a second."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import GatewayProcess, free_port
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.raw_http import Blackhole, Resetter

MASTER_KEY = "sk-master-resilience"
CLIENT_KEY = "sk-client-resilience"
PRIMARY_KEY = "sk-primary-secret"
BACKUP_KEY = "sk-backup-secret"
ROTATING_KEYS = ["sk-rotate-one", "sk-rotate-two"]
MAX_ATTEMPTS = 3
FIRST_BYTE = 0.8
MAX_REPLY = 8192


def config(
    primary: ScriptedUpstream, backup: ScriptedUpstream, blackhole: Blackhole, resetter: Resetter
) -> dict[str, Any]:
    fast = {"connect": 2, "first_byte": FIRST_BYTE, "idle": FIRST_BYTE, "total": 5}
    return {
        "master_key": MASTER_KEY,
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "server": {"max_messages": 8, "max_tools": 4, "body_timeout_seconds": 1},
        "routing": {
            "max_attempts": MAX_ATTEMPTS,
            "max_retry_seconds": 5,
            "backoff_seconds": 0.05,
            "max_backoff_seconds": 0.2,
            # No channel rests in this suite (not even for a retry-after): each case sees its
            # own failover. test_health.py covers resting.
            "health": {"failures": 10_000, "min_requests": 10_000, "cooldown_seconds": 0.01},
        },
        "providers": [
            {
                "name": "primary",
                "kind": "openai",
                "base_url": primary.openai_base,
                "api_key": PRIMARY_KEY,
                "timeouts": fast,
                "max_reply_bytes": MAX_REPLY,
            },
            {
                "name": "backup",
                "kind": "openai",
                "base_url": backup.openai_base,
                "api_key": BACKUP_KEY,
            },
            {
                "name": "ant-primary",
                "kind": "anthropic",
                "base_url": primary.anthropic_base,
                "timeouts": fast,
                "max_reply_bytes": MAX_REPLY,
            },
            {"name": "ant-backup", "kind": "anthropic", "base_url": backup.anthropic_base},
            {"name": "dead", "kind": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1"},
            {
                # A slow first byte is not an idle stream: `idle` must not cut it.
                "name": "patient",
                "kind": "openai",
                "base_url": primary.openai_base,
                "timeouts": {"first_byte": 3, "idle": 0.3, "total": 5},
            },
            {
                "name": "brief",
                "kind": "openai",
                "base_url": primary.openai_base,
                "timeouts": {"first_byte": 5, "idle": 5, "total": 0.6},
            },
            {
                "name": "blackhole",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{blackhole.port}/v1",
                "timeouts": {"connect": 0.5, "first_byte": 5},
            },
            {
                "name": "resetting",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{resetter.port}",
            },
            {
                "name": "rotating",
                "kind": "openai",
                "base_url": backup.openai_base,
                "api_key": ROTATING_KEYS[0],
                "api_keys": ROTATING_KEYS[1:],
            },
        ],
        "models": [
            {
                "id": "test/pair",
                "channels": [
                    {"provider": "primary", "model": "p-model"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
            {"id": "test/solo", "channels": [{"provider": "primary", "model": "p-model"}]},
            {
                # Anthropic upstreams: the pass-through (relay) path.
                "id": "test/ant-pair",
                "channels": [
                    {"provider": "ant-primary", "model": "p-claude"},
                    {"provider": "ant-backup", "model": "b-claude", "priority": 1},
                ],
            },
            {
                "id": "test/refused",
                "channels": [
                    {"provider": "dead", "model": "gone"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
            {"id": "test/patient", "channels": [{"provider": "patient", "model": "p-model"}]},
            {"id": "test/brief", "channels": [{"provider": "brief", "model": "p-model"}]},
            {
                "id": "test/sticky",
                "channels": [
                    {"provider": "primary", "model": "p-model"},
                    {"provider": "backup", "model": "b-model"},
                ],
            },
            {"id": "test/keys", "channels": [{"provider": "rotating", "model": "r-model"}]},
            {
                "id": "test/blackhole",
                "channels": [
                    {"provider": "blackhole", "model": "x"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
            {
                "id": "test/reset",
                "channels": [
                    {"provider": "resetting", "model": "x"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
        ],
    }


@pytest.fixture(scope="session")
def primary() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def backup() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


@pytest.fixture(scope="session")
def resetter() -> Iterator[Resetter]:
    server = Resetter()
    yield server
    server.close()


@pytest.fixture(scope="session")
def gateway(
    primary: ScriptedUpstream, backup: ScriptedUpstream, blackhole: Blackhole, resetter: Resetter
) -> Iterator[GatewayProcess]:
    with GatewayProcess(config(primary, backup, blackhole, resetter)) as gw:
        yield gw
    output = gw.output()
    for secret in (MASTER_KEY, CLIENT_KEY, PRIMARY_KEY, BACKUP_KEY, *ROTATING_KEYS):
        assert secret not in output, "a secret reached the gateway's log"


@pytest.fixture(autouse=True)
def _fresh(primary: ScriptedUpstream, backup: ScriptedUpstream) -> None:
    primary.reset()
    backup.reset()


def post(
    gw: GatewayProcess, body: dict[str, Any], *, timeout: float = 10, **headers: str
) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/messages",
        json=body,
        headers={"x-api-key": CLIENT_KEY, **headers},
        timeout=timeout,
    )


def stream(gw: GatewayProcess, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    with httpx.stream(
        "POST",
        gw.url + "/v1/messages",
        json={**body, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
        timeout=10,
    ) as resp:
        return resp, resp.read()
