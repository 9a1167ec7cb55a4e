"""The recorded Claude Code session replayed through the real gateway to an OpenAI-dialect
upstream that caches by prefix (prefix_cache.py): from the third turn on, at least 80% of every
turn's input comes from the upstream's cache, and the ledger bills those tokens at the model's
cache-read price. Deferred tools reach the upstream only once loaded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.claude_code_wire.ledgered import ledgered_gateway, new_key
from tests.claude_code_wire.prefix_cache import PrefixCachingUpstream
from tests.claude_code_wire.replay import TurnUsage, replay, table, turns
from tests.tenancy.gateway import Gateway

PRICING = {"input": 0.30, "output": 1.20, "cache_read": 0.006}


@pytest.fixture(scope="module")
def upstream() -> Iterator[PrefixCachingUpstream]:
    up = PrefixCachingUpstream()
    with up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: PrefixCachingUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("cccache")
    config = {
        "providers": [
            {"name": "cache", "kind": "openai", "base_url": upstream.openai_base, "api_key": "k"}
        ],
        "models": [
            {
                "id": "deepseek/deepseek-flash",
                "aliases": ["claude-*"],
                "context_window": 1000000,
                "max_output_tokens": 384000,
                "capabilities": {"tools": True, "prompt_caching": True},
                "channels": [{"provider": "cache", "model": "deepseek-flash"}],
                "pricing": PRICING,
            }
        ],
    }
    with ledgered_gateway(tmp, **config) as gw:
        yield gw


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> tuple[str, str]:
    return new_key(gateway, "claude-code")


@pytest.fixture(scope="module")
def replayed(
    gateway: Gateway, upstream: PrefixCachingUpstream, key: tuple[str, str]
) -> list[TurnUsage]:
    usages = replay(gateway.url + "/anthropic", key[1])
    print("\n" + table(usages))
    return usages


def test_the_recording_is_claude_codes_own() -> None:
    """Several sessions, each with its own attribution line: what breaks prefix caches."""
    recorded = turns()
    assert len(recorded) >= 6
    lines = {t["body"]["system"][0]["text"] for t in recorded}
    assert len(lines) >= 3
    assert all(line.startswith("x-anthropic-billing-header: cc_version=2.1.330.") for line in lines)
    assert any(tool.get("defer_loading") for t in recorded for tool in t["body"]["tools"])


def test_from_the_third_turn_on_the_upstream_serves_most_input_from_its_cache(
    replayed: list[TurnUsage], upstream: PrefixCachingUpstream
) -> None:
    # What the gateway told the client is what the upstream counted.
    assert [(u.input_tokens, u.cached_tokens) for u in replayed] == [
        (s.prompt_tokens, s.cached_tokens) for s in upstream.cache.seen
    ]
    shares = [round(u.cached_share, 2) for u in replayed]
    assert all(share >= 0.8 for share in shares[2:]), shares
    assert all("attribution" in u.dropped for u in replayed)


def test_the_upstream_never_sees_the_attribution_line(
    upstream: PrefixCachingUpstream, replayed: list[TurnUsage]
) -> None:
    bodies = [r.json for r in upstream.received if isinstance(r.json, dict)]
    assert len(bodies) == len(replayed)
    for body in bodies:
        assert "x-anthropic-billing-header" not in json.dumps(body)
        # The rest of the system prompt is all there.
        assert body["messages"][0]["content"].startswith("You are a Claude agent")


def test_deferred_tools_reach_the_upstream_once_loaded(
    upstream: PrefixCachingUpstream, replayed: list[TurnUsage]
) -> None:
    bodies = [r.json for r in upstream.received if isinstance(r.json, dict)]
    recorded = turns()
    for turn, body in zip(recorded, bodies, strict=True):
        sent = {t["function"]["name"] for t in body["tools"]}
        offered = {t["name"]: t for t in turn["body"]["tools"]}
        assert "DeferredToolPlaceholder" not in sent  # deferred, never loaded
        assert {n for n, t in offered.items() if not t.get("defer_loading")} <= sent
    # The ToolSearch turn: its result tells the model what is loaded, and from then on the
    # loaded tools are offered.
    after = bodies[1]
    result = next(m for m in after["messages"] if m["role"] == "tool")
    assert "Tool WebFetch loaded" in result["content"]
    assert "Tool NotebookEdit loaded" in result["content"]
    assert {"WebFetch", "NotebookEdit"} <= {t["function"]["name"] for t in after["tools"]}
    assert not {"WebFetch", "NotebookEdit"} & {t["function"]["name"] for t in bodies[0]["tools"]}


def test_the_ledger_bills_cached_tokens_at_the_cache_read_price(
    gateway: Gateway, key: tuple[str, str], replayed: list[TurnUsage]
) -> None:
    deadline = time.monotonic() + 15
    while True:
        status, body = gateway.admin("GET", f"/admin/usage?key={key[0]}&limit=1000")
        assert status == 200
        rows = body["data"]
        if len(rows) >= len(replayed) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    rows.sort(key=lambda r: r["at"])
    assert len(rows) == len(replayed)
    for row, used in zip(rows, replayed, strict=True):
        assert row["cache_read_tokens"] == used.cached_tokens
        assert row["input_tokens"] == used.input_tokens - used.cached_tokens
        expected = (
            PRICING["input"] * row["input_tokens"]
            + PRICING["cache_read"] * row["cache_read_tokens"]
            + PRICING["output"] * row["output_tokens"]
        ) / 1e6
        assert row["cost_usd"] == pytest.approx(expected, abs=1e-9)
