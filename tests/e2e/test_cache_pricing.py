"""Cached input tokens are input tokens: a model priced without a cache price bills the
upstream's cache reads and writes at its input price, and an explicit `cache_read: 0` /
`cache_write: 0` keeps them free. Asserted where the operator reads the bill: the ledger, by
`switchboard usage`, after requests made with the Anthropic SDK through the real gateway to a
scripted Anthropic upstream that reports cached tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.claude_code_wire.ledgered import ledgered_gateway, new_key
from tests.support.anthropic_wire import anthropic_message
from tests.support.mock_upstream import ScriptedUpstream
from tests.tenancy.gateway import Gateway, cli_json

# What the upstream reports for every request: fresh input, output, cache reads, cache writes.
FRESH, OUTPUT, READ, WRITTEN = 100, 20, 4000, 1000
PRICES: dict[str, dict[str, float]] = {
    "no-cache-price": {"input": 2.0, "output": 10.0},
    "read-priced": {"input": 2.0, "output": 10.0, "cache_read": 0.2},
    "free-cache": {"input": 2.0, "output": 10.0, "cache_read": 0, "cache_write": 0},
}
# USD: what each model's request costs (per million tokens -> per token).
EXPECTED = {
    "no-cache-price": (2.0 * FRESH + 10.0 * OUTPUT + 2.0 * READ + 2.0 * WRITTEN) / 1e6,
    "read-priced": (2.0 * FRESH + 10.0 * OUTPUT + 0.2 * READ + 2.0 * WRITTEN) / 1e6,
    "free-cache": (2.0 * FRESH + 10.0 * OUTPUT) / 1e6,
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def config_path(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, Path]]:
    tmp = tmp_path_factory.mktemp("cacheprice")
    models = [
        {
            "id": model,
            "channels": [{"provider": "ant", "model": "claude-up"}],
            "pricing": pricing,
        }
        for model, pricing in PRICES.items()
    ]
    providers = [
        {"name": "ant", "kind": "anthropic", "base_url": upstream.anthropic_base, "api_key": "k"}
    ]
    with ledgered_gateway(tmp, providers=providers, models=models) as gw:
        yield gw, tmp / "switchboard.yaml"


def _cached_reply() -> Any:
    reply = anthropic_message("cached answer", usage=(FRESH, OUTPUT))
    assert isinstance(reply.body, dict)
    reply.body["usage"]["cache_read_input_tokens"] = READ
    reply.body["usage"]["cache_creation_input_tokens"] = WRITTEN
    return reply


def test_cached_tokens_without_a_cache_price_are_billed_at_the_input_price(
    config_path: tuple[Gateway, Path], upstream: ScriptedUpstream
) -> None:
    gateway, path = config_path
    key_id, secret = new_key(gateway, "cache-user")
    client = anthropic.Anthropic(base_url=gateway.url, api_key=secret, max_retries=0)
    for model in PRICES:
        upstream.enqueue(_cached_reply())
        message = client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "hello again"}]
        )
        # The client sees the upstream's counts as they were.
        assert message.usage.cache_read_input_tokens == READ
        assert message.usage.cache_creation_input_tokens == WRITTEN
    deadline = time.monotonic() + 15
    while True:
        status, body = gateway.admin("GET", f"/admin/usage?key={key_id}")
        assert status == 200, body
        if len(body["data"]) >= len(PRICES) or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    rows = {r["model"]: r for r in cli_json(path, "usage", "--key", key_id)}
    assert set(rows) == set(PRICES)
    for model, row in rows.items():
        assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (
            FRESH,
            READ,
            WRITTEN,
        )
        assert row["cost_usd"] == pytest.approx(EXPECTED[model], abs=1e-9), model
    totals = {r["model"]: r["cost_usd"] for r in cli_json(path, "usage", "--group-by", "model")}
    assert totals == pytest.approx(EXPECTED, abs=1e-9)
    # The console's models page (and the admin API) show the prices that were billed.
    status, listed = gateway.admin("GET", "/admin/models")
    assert status == 200, listed
    shown = {m["id"]: m["pricing"] for m in listed["data"] if m["id"] in PRICES}
    assert shown["no-cache-price"] == {
        "input": 2.0,
        "output": 10.0,
        "cache_read": 2.0,
        "cache_write": 2.0,
    }
    assert shown["free-cache"]["cache_read"] == 0
    assert shown["free-cache"]["cache_write"] == 0
