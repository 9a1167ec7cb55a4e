"""Scripted Gemini and Vertex AI upstreams on loopback, a fake OAuth token endpoint for
google-auth (a throwaway service account whose token_uri is on 127.0.0.1), and one real gateway
process in front of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import GatewayProcess
from tests.support.gemini_wire import (
    gemini_body,
    gemini_frame,
    service_account,
    text_part,
    token_reply,
)
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.raw_http import Resetter

MASTER_KEY = "sk-master-google"
CLIENT_KEY = "sk-client-google"
GEMINI_KEY = "AIza-gemini-secret-123"
BACKUP_KEY = "AIza-backup-secret-456"
ACCESS_TOKEN = "ya29.vertex-access-token-789"
PROJECT = "test-project"
LOCATION = "us-east5"
VERTEX_CLAUDE = "claude-sonnet-4-5@20250929"
SECRETS = (MASTER_KEY, CLIENT_KEY, GEMINI_KEY, BACKUP_KEY, ACCESS_TOKEN)

THINKING = {"vision": True, "pdf": True, "tools": True, "thinking": True}


def gateway_config(
    up: ScriptedUpstream, backup: ScriptedUpstream, resetter: Resetter, credentials: Path
) -> dict[str, Any]:
    fast = {"connect": 2, "first_byte": 1.0, "idle": 1.0, "total": 5}
    return {
        "master_key": MASTER_KEY,
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "routing": {
            "max_attempts": 3,
            "max_retry_seconds": 3,
            "backoff_seconds": 0.05,
            "max_backoff_seconds": 0.2,
            "health": {"failures": 10_000, "min_requests": 10_000, "cooldown_seconds": 0.01},
        },
        "providers": [
            {
                "name": "gem",
                "kind": "gemini",
                "base_url": up.base_url + "/v1beta",
                "api_key": GEMINI_KEY,
                "timeouts": fast,
            },
            {
                "name": "gem-backup",
                "kind": "gemini",
                "base_url": backup.base_url + "/v1beta",
                "api_key": BACKUP_KEY,
            },
            {
                "name": "gem-reset",
                "kind": "gemini",
                "base_url": f"http://127.0.0.1:{resetter.port}/v1beta",
            },
            {
                "name": "vx",
                "kind": "vertex",
                "base_url": up.base_url,
                "project": PROJECT,
                "location": LOCATION,
                "credentials_file": str(credentials),
                "timeouts": fast,
            },
        ],
        "models": [
            {
                "id": "gemini-2.5-flash",
                "capabilities": THINKING,
                "pricing": {"input": 0.3, "output": 2.5, "cache_read": 0.03},
                "channels": [{"provider": "gem", "model": "gemini-2.5-flash"}],
            },
            {
                "id": "gemini-3-pro",
                "capabilities": THINKING,
                "channels": [{"provider": "gem", "model": "gemini-3-pro-preview"}],
            },
            {
                "id": "test/gemini-pair",
                "capabilities": THINKING,
                "channels": [
                    {"provider": "gem", "model": "gemini-2.5-flash"},
                    {"provider": "gem-backup", "model": "gemini-2.5-flash", "priority": 1},
                ],
            },
            {
                "id": "test/gemini-reset",
                "channels": [{"provider": "gem-reset", "model": "gemini-2.5-flash"}],
            },
            {
                "id": "vertex/claude",
                "capabilities": THINKING,
                "channels": [{"provider": "vx", "model": VERTEX_CLAUDE}],
            },
            {
                "id": "vertex/gemini",
                "capabilities": THINKING,
                "channels": [{"provider": "vx", "model": "gemini-2.5-pro"}],
            },
        ],
    }


@pytest.fixture(scope="package")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="package")
def backup() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="package")
def token_server() -> Iterator[ScriptedUpstream]:
    """The OAuth token endpoint: one token, valid an hour (so fetched once)."""
    with ScriptedUpstream() as up:
        up.enqueue(*[token_reply(ACCESS_TOKEN) for _ in range(4)])
        yield up


@pytest.fixture(scope="package")
def gateway(
    upstream: ScriptedUpstream,
    backup: ScriptedUpstream,
    token_server: ScriptedUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    credentials = service_account(
        tmp_path_factory.mktemp("gcp") / "sa.json", token_server.base_url + "/token"
    )
    partial = gemini_frame(gemini_body([text_part("partial ")], finish=None))
    resetter = Resetter(partial + partial)
    try:
        with GatewayProcess(gateway_config(upstream, backup, resetter, credentials)) as gw:
            yield gw
    finally:
        resetter.close()
    output = gw.output()
    for secret in SECRETS:
        assert secret not in output, "a secret reached the gateway's log"


@pytest.fixture(autouse=True)
def _fresh_upstreams(upstream: ScriptedUpstream, backup: ScriptedUpstream) -> None:
    upstream.reset()
    backup.reset()
