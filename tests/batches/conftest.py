"""A gateway with batches on, against the marker-echoing upstream (upstream.py), on SQLite or
PostgreSQL (`database_url`: a fresh database per test, tests/tenancy's fixture)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request

from tests.support.mock_upstream import ScriptedUpstream
from tests.tenancy.conftest import database_url  # noqa: F401 - each test on both databases

from .upstream import new_upstream

MASTER = "sk-batches-master"
MODEL = "claude-batch"  # served by the Anthropic-dialect provider (relayed as-is)
OPENAI_MODEL = "gpt-batch"  # served by the OpenAI-dialect provider
PRICING = {"input": 3.0, "output": 15.0}
# Quick passes for tests (a documented knob): the worker looks every 50 ms, and a dead
# process's leases lapse after 1 s.
FAST = {"poll_seconds": 0.05, "lease_seconds": 1.0, "per_batch": 4}


def batch_request(custom_id: str, marker: str, model: str = MODEL, max_tokens: int = 16) -> Request:
    """A Message Batches request whose reply (and upstream request) carries `marker`."""
    return {
        "custom_id": custom_id,
        "params": {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": f"say m:{marker}"}],
        },
    }


def wait_ended(c: anthropic.Anthropic, batch_id: str, timeout: float = 20.0) -> MessageBatch:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = c.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not end in {timeout} s")


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
