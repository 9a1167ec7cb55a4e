"""A gateway with batches on, against the marker-echoing upstream (upstream.py), on SQLite or
PostgreSQL (a fresh database per test, as tests/tenancy does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.tenancy.services import postgres_database

from .upstream import new_upstream

MASTER = "sk-batches-master"
MODEL = "claude-batch"  # served by the Anthropic-dialect provider (relayed as-is)
OPENAI_MODEL = "gpt-batch"  # served by the OpenAI-dialect provider
PRICING = {"input": 3.0, "output": 15.0}
# Quick passes for tests (a documented knob): the worker looks every 50 ms, and a dead
# process's leases lapse after 1 s.
FAST = {"poll_seconds": 0.05, "lease_seconds": 1.0, "per_batch": 4}


def gateway_config(database: str, upstream: ScriptedUpstream, **batches: Any) -> dict[str, Any]:
    return {
        "master_key": MASTER,
        "database": database,
        "providers": [
            {"name": "ant", "kind": "anthropic", "base_url": upstream.anthropic_base},
            {"name": "oa", "kind": "openai", "base_url": upstream.openai_base, "api_key": "k"},
        ],
        "models": [
            {
                "id": MODEL,
                "channels": [{"provider": "ant", "model": "up-ant"}],
                "max_output_tokens": 1000,
                "pricing": PRICING,
            },
            {
                "id": OPENAI_MODEL,
                "channels": [{"provider": "oa", "model": "up-oa"}],
                "max_output_tokens": 1000,
                "pricing": PRICING,
            },
        ],
        "batches": {**FAST, **batches},
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with new_upstream() as up:
        yield up


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'switchboard.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """One gateway on SQLite shared by a module's SDK tests."""
    db = tmp_path_factory.mktemp("batches") / "switchboard.db"
    with GatewayProcess(gateway_config(f"sqlite:///{db}", upstream)) as gw:
        yield gw
