"""One gateway on loopback for the console tests: a priced model on the built-in scripted
upstream, a model whose only channel is dead (connection refused), a static client key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.console.console_client import ConsoleClient
from tests.support.gateway import GatewayProcess, free_port

MASTER_KEY = "sk-sb-master-console-test-0123456789"
CLIENT_KEY = "sk-console-client-key-456"
PRICING = {"input": 3.0, "output": 15.0}


def console_config(database: Path) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    return {
        "master_key": MASTER_KEY,
        "database": f"sqlite:///{database}",
        "routing": {"max_attempts": 1, "max_retry_seconds": 1},
        "providers": [
            {"name": "demo", "kind": "scripted"},
            {"name": "dead", "kind": "openai", "base_url": dead, "api_key": "sk-dead-upstream"},
        ],
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "models": [
            {
                "id": "switchboard/demo",
                "aliases": ["demo"],
                "context_window": 200000,
                "max_output_tokens": 8192,
                "pricing": PRICING,
                "channels": [{"provider": "demo", "model": "demo"}],
            },
            {"id": "test/dead", "channels": [{"provider": "dead", "model": "gone"}]},
        ],
    }


def start_gateway(tmp: Path) -> GatewayProcess:
    return GatewayProcess(console_config(tmp / "switchboard.db"), cwd=tmp).start()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gw = start_gateway(tmp_path_factory.mktemp("console"))
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def console(gateway: GatewayProcess) -> Iterator[ConsoleClient]:
    client = ConsoleClient(gateway.url)
    assert client.sign_in(MASTER_KEY).status_code == 303
    try:
        yield client
    finally:
        client.close()


def sdk(gateway: GatewayProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)


def ask(gateway: GatewayProcess, key: str, model: str = "switchboard/demo") -> Any:
    with sdk(gateway, key) as client:
        return client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
        )


def api(gateway: GatewayProcess, path: str, **params: str) -> Any:
    with httpx.Client(base_url=gateway.url, trust_env=False) as http:
        answer = http.get(path, params=params, headers={"x-api-key": MASTER_KEY})
        assert answer.status_code == 200, answer.text
        return answer.json()


def wait_ledger(gateway: GatewayProcess, requests: int) -> Any:
    """The ledger is written in batches off the request path: wait for the rows."""
    deadline = time.monotonic() + 10
    while True:
        page = api(gateway, "/admin/requests", limit="500")
        if page["total"] >= requests or time.monotonic() > deadline:
            return page
        time.sleep(0.05)
