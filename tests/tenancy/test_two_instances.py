"""Two gateway processes share one PostgreSQL and one Redis, behind no load balancer but the
test's own round robin. Under concurrent load, one key's requests-per-minute limit and another
key's budget hold exactly across both, and every request has its row in the ledger; so do a
team's requests per minute, requests in flight and budget, its keys used through both."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.support.mock_upstream import HangReply, ScriptedUpstream

from .gateway import MASTER, PRICING, Gateway, cli_json, write_config

pytestmark = pytest.mark.e2e

ASK = [{"role": "user", "content": "count me"}]
PER_KEY = 30  # 60 requests in all: bounded, and done in a few seconds


def cost_of(usage: Any) -> int:
    nano: float = 1000 * (
        PRICING["input"] * usage.input_tokens + PRICING["output"] * usage.output_tokens
    )
    return math.ceil(round(nano, 6))


async def one(gateway: Gateway, key: str) -> tuple[int, str]:
    """(HTTP status, request id) of one request, as the SDK saw it."""
    async with anthropic.AsyncAnthropic(
        api_key=key, base_url=gateway.url, max_retries=0, timeout=30
    ) as c:
        try:
            raw = await c.messages.with_raw_response.create(
                model="demo",
                max_tokens=4,
                messages=ASK,  # type: ignore[arg-type]
            )
        except anthropic.APIStatusError as err:
            return err.status_code, str(err.request_id)
        return raw.status_code, raw.headers["request-id"]


def ledger(gateway: Gateway, key_id: str, expected: int) -> list[dict[str, Any]]:
    """The key's ledger rows, once the writers have caught up (they batch off the hot path)."""
    deadline = time.monotonic() + 15
    while True:
        status, body = gateway.admin("GET", f"/admin/usage?key={key_id}&limit=1000")
        assert status == 200
        if len(body["data"]) >= expected or time.monotonic() > deadline:
            return list(body["data"])
        time.sleep(0.2)


def test_rpm_and_budget_hold_across_two_instances(
    tmp_path: Path, postgres_url: str, redis: tuple[str, str]
) -> None:
    redis_url, prefix = redis
    config = write_config(tmp_path / "c.yaml", postgres_url, redis=redis_url, redis_prefix=prefix)
    gateways = [Gateway(config, tmp_path / f"gw{i}.log") for i in range(2)]
    try:
        with anthropic.Anthropic(api_key=MASTER, base_url=gateways[0].url, max_retries=0) as c:
            probe = c.messages.create(model="demo", max_tokens=4, messages=ASK)  # type: ignore[arg-type]
        assert probe.usage.output_tokens == 4  # the demo reply is cut at max_tokens: cost is exact
        each = cost_of(probe.usage)
        rpm_id, rpm_key = (lambda k: (k["id"], k["key"]))(
            cli_json(config, "keys", "create", "--name", "rpm", "--rpm", "10")
        )
        budget_usd = 7.5 * each / 1e9  # room for 7 requests, not 8
        budget_id, budget_key = (lambda k: (k["id"], k["key"]))(
            cli_json(config, "keys", "create", "--name", "budget", "--budget-usd", repr(budget_usd))
        )

        async def load() -> list[tuple[str, int, str]]:
            jobs = []
            for i in range(PER_KEY):
                for name, key in (("rpm", rpm_key), ("budget", budget_key)):
                    jobs.append((name, one(gateways[i % 2], key)))
            results = await asyncio.gather(*(job for _, job in jobs))
            return [(name, *result) for (name, _), result in zip(jobs, results, strict=True)]

        started = time.monotonic()
        results = asyncio.run(asyncio.wait_for(load(), 60))
        assert time.monotonic() - started < 60  # well inside one window: the limit is exact

        rpm_statuses = Counter(status for name, status, _ in results if name == "rpm")
        budget_statuses = Counter(status for name, status, _ in results if name == "budget")
        assert rpm_statuses == {200: 10, 429: 20}
        assert budget_statuses == {200: 7, 402: 23}

        for key_id, name in ((rpm_id, "rpm"), (budget_id, "budget")):
            rows = ledger(gateways[1], key_id, PER_KEY)
            seen = {rid: status for n, status, rid in results if n == name}
            assert {r["request_id"]: r["status"] for r in rows} == seen
        spent = sum(r["cost_usd"] for r in ledger(gateways[0], budget_id, PER_KEY))
        assert spent == pytest.approx(7 * each / 1e9)
        assert spent <= budget_usd
    finally:
        for gateway in gateways:
            gateway.stop()


async def asked(c: anthropic.AsyncAnthropic, model: str) -> tuple[int, str]:
    """(HTTP status, error message or "") of one request, as the SDK saw it."""
    try:
        await c.messages.create(model=model, max_tokens=4, messages=ASK)  # type: ignore[arg-type]
    except anthropic.APIStatusError as err:
        body: Any = err.body
        return err.status_code, str(body["error"]["message"])
    return 200, ""


def test_a_team_holds_across_two_instances(
    tmp_path: Path, postgres_url: str, redis: tuple[str, str]
) -> None:
    """Three teams, two keys each, every key used through both instances at once: the team's
    requests per minute, requests in flight and budget hold exactly, each refusal says it is the
    team's limit, and the ledger charges every row to its team."""
    redis_url, prefix = redis
    # A slow upstream: requests of the concurrency team are all in flight together.
    with ScriptedUpstream(lambda _: HangReply(2.0)) as upstream:
        config = write_config(
            tmp_path / "c.yaml",
            postgres_url,
            redis=redis_url,
            redis_prefix=prefix,
            providers=[
                {"name": "demo", "kind": "scripted"},
                {"name": "slow", "kind": "anthropic", "base_url": upstream.anthropic_base},
            ],
            models=[
                {"id": "demo", "channels": [{"provider": "demo", "model": "demo"}],
                 "pricing": PRICING},
                {"id": "slow", "channels": [{"provider": "slow", "model": "slow"}]},
            ],
        )  # fmt: skip
        gateways = [Gateway(config, tmp_path / f"gw{i}.log") for i in range(2)]
        try:
            with anthropic.Anthropic(api_key=MASTER, base_url=gateways[0].url) as c:
                probe = c.messages.create(model="demo", max_tokens=4, messages=ASK)  # type: ignore[arg-type]
            each = cost_of(probe.usage)
            budget_usd = 7.5 * each / 1e9  # room for 7 requests, not 8
            teams: dict[str, dict[str, Any]] = {
                "rpm": {"rpm": 10},
                "budget": {"budget_usd": budget_usd},
                "conc": {"max_concurrent": 3},
            }
            team_ids, keys = {}, {}
            for name, limits in teams.items():  # through the admin API: the CLI is slower
                status, team = gateways[0].admin("POST", "/admin/teams", {"name": name, **limits})
                assert status == 201
                team_ids[name] = team["id"]
                for n in range(2):
                    status, made = gateways[1].admin(
                        "POST", "/admin/keys", {"name": f"{name}{n}", "team": name}
                    )
                    assert (status, made["team"]) == (201, team_ids[name])
                    keys[f"{name}{n}"] = made["key"]
            plan = {"rpm": ("demo", 15), "budget": ("demo", 15), "conc": ("slow", 6)}

            async def load() -> list[tuple[str, int, str]]:
                # One SDK client per key and instance (a client is slow to make, not to use).
                clients = {
                    (key, g): anthropic.AsyncAnthropic(
                        api_key=secret, base_url=gateway.url, max_retries=0, timeout=30
                    )
                    for key, secret in keys.items()
                    for g, gateway in enumerate(gateways)
                }
                jobs = []
                for team, (model, per_key) in plan.items():
                    for i in range(per_key):
                        for n in range(2):  # each key through both instances, interleaved
                            c = clients[(f"{team}{n}", (i + n) % 2)]
                            jobs.append((team, asked(c, model)))
                try:
                    results = await asyncio.gather(*(job for _, job in jobs))
                finally:
                    for c in clients.values():
                        await c.close()
                return [(t, *r) for (t, _), r in zip(jobs, results, strict=True)]

            started = time.monotonic()
            results = asyncio.run(asyncio.wait_for(load(), 60))
            assert time.monotonic() - started < 60  # inside one window: the limits are exact

            def statuses(team: str) -> Counter[int]:
                return Counter(status for t, status, _ in results if t == team)

            assert statuses("rpm") == {200: 10, 429: 20}
            assert statuses("budget") == {200: 7, 402: 23}
            assert statuses("conc") == {200: 3, 429: 9}
            for team, status, message in results:
                if status != 200:
                    assert message.startswith(
                        (f"rate limit: team '{team}'", f"budget: team '{team}'")
                    )
            refused = next(m for t, s, m in results if t == "conc" and s == 429)
            assert "already has 3 requests in flight" in refused

            rows: list[dict[str, Any]] = []
            deadline = time.monotonic() + 15
            while len(rows) < 2 * sum(n for _, n in plan.values()) and time.monotonic() < deadline:
                status, body = gateways[1].admin("GET", "/admin/usage?limit=1000")
                rows = [r for r in body["data"] if r["key_id"] != "master"]
                time.sleep(0.2)
            assert Counter(r["team_id"] for r in rows) == {
                team_ids["rpm"]: 30,
                team_ids["budget"]: 30,
                team_ids["conc"]: 12,
            }
            status, body = gateways[0].admin("GET", "/admin/usage?group_by=team")
            spent = {r["team"]: r["cost_usd"] for r in body["data"]}
            assert spent[team_ids["budget"]] == pytest.approx(7 * each / 1e9)
            assert spent[team_ids["budget"]] <= budget_usd
        finally:
            for gateway in gateways:
                gateway.stop()
