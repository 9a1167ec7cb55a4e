"""Admission for a key in a team, on the in-process limiter: the model must be allowed by both
allow-lists, a request must fit both the key's and the team's limits, every refusal says whose
limit it was, and the team's budget is seeded from its own spend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from switchboard.catalog import Catalog, ModelEntry
from switchboard.config import parse_config
from switchboard.errors import BillingError, InvalidRequest, PermissionDenied, RateLimited
from switchboard.limits.leases import Leases
from switchboard.limits.memory import MemoryLimiter
from switchboard.record import FAILED
from switchboard.tenancy.admission import Admission
from switchboard.tenancy.auth import Principal
from switchboard.tenancy.keys import ApiKey, Limits, Team

CATALOG = Catalog(
    parse_config(
        {
            "providers": [{"name": "p", "kind": "scripted"}],
            "models": [
                {"id": m, "channels": [{"provider": "p", "model": "a"}],
                 "pricing": {"input": 1.0, "output": 1.0}}
                for m in ("a", "b", "c")
            ],
        },
        "test",
        env={},
    )
)  # fmt: skip


def entry(model: str) -> ModelEntry:
    found = CATALOG.resolve(model)
    assert found is not None
    return found


NO_LIMITS = Limits()


def member(name: str, team: Team, limits: Limits = NO_LIMITS) -> Principal:
    key = ApiKey(f"key_{name}", name, "sk-sb-abcd", limits, datetime.now(UTC), team=team)
    return Principal(name, key=key)


def team(**limits: object) -> Team:
    return Team("team_1", "crew", Limits(**limits), datetime.now(UTC))  # type: ignore[arg-type]


def run(work: object) -> None:
    asyncio.run(asyncio.wait_for(work, 10))  # type: ignore[arg-type]


def admission(spent: dict[str, int] | None = None) -> tuple[Admission, list[str]]:
    asked: list[str] = []

    async def key_spend(key_id: str, since: datetime | None) -> int:
        asked.append(key_id)
        return 0

    async def team_spend(team_id: str, since: datetime | None) -> int:
        asked.append(team_id)
        return (spent or {}).get(team_id, 0)

    lim = MemoryLimiter()
    return Admission(lim, key_spend, Leases(lim), team_spend), asked


def test_the_models_allowed_are_the_intersection() -> None:
    crew = team(models=("a", "b"))
    both = member("k", crew, Limits(models=("b", "c")))

    async def work() -> None:
        adm, _ = admission()
        await adm.admit(both, "b", entry("b"), 1, 1)
        with pytest.raises(PermissionDenied) as by_team:
            await adm.admit(both, "c", entry("c"), 1, 1)
        assert by_team.value.message == (
            "model: team 'crew' (of key 'k') may not use model 'c' (allowed: a, b)"
        )
        with pytest.raises(PermissionDenied) as by_key:
            await adm.admit(both, "a", entry("a"), 1, 1)
        assert by_key.value.message.startswith("model: key 'k' may not use model 'a'")
        with pytest.raises(PermissionDenied):  # token counts are held to both lists too
            await adm.admit_count(both, "c", entry("c"))

    run(work())


def test_the_team_limits_every_key_and_says_so() -> None:
    crew = team(rpm=2, tpm=500)

    async def work() -> None:
        adm, _ = admission()
        one, two = member("one", crew), member("two", crew, Limits(rpm=10))
        for who in (one, two):
            ticket = await adm.admit(who, "a", entry("a"), 10, 10)
            await ticket.settle(FAILED)
        with pytest.raises(RateLimited) as refused:
            await adm.admit(two, "a", entry("a"), 10, 10)
        assert refused.value.message.startswith(
            "rate limit: team 'crew' (of key 'two') has made 2 requests in the last minute, "
            "its limit is 2 requests per minute"
        )
        headers = dict(refused.value.headers())
        assert headers[b"anthropic-ratelimit-requests-limit"] == b"2"  # the team's
        with pytest.raises(InvalidRequest) as too_big:
            await adm.admit(one, "a", entry("a"), 400, 200)
        assert "more than team 'crew' (of key 'one') may use in a minute" in too_big.value.message
        # Token counts have a window of their own per key and per team.
        for _ in range(2):
            await adm.admit_count(one, "a", entry("a"))
        with pytest.raises(RateLimited) as counted:
            await adm.admit_count(two, "a", entry("a"))
        assert counted.value.message.startswith("rate limit: team 'crew' (of key 'two')")

    run(work())


def test_a_team_budget_is_seeded_from_the_teams_spend() -> None:
    crew = team(budget_nusd=100_000)  # $0.0001: about 2 requests of 40 tokens at $1/M

    async def work() -> None:
        adm, asked = admission({"team_1": 30_000})
        who = member("k", crew)
        held = await adm.admit(who, "a", entry("a"), 20, 20)  # may cost up to $0.00004
        assert asked == ["team_1"]  # the key has no budget: only the team's spend is read
        with pytest.raises(BillingError) as refused:
            await adm.admit(who, "a", entry("a"), 20, 20)
        assert refused.value.message.startswith(
            "budget: team 'crew' (of key 'k') has spent $0.00003 of its monthly budget of "
            "$0.0001 ($0.00004 more is reserved by requests in flight)"
        )
        await held.settle(FAILED)  # a failed request costs nothing: the room is back
        await (await adm.admit(who, "a", entry("a"), 20, 20)).settle(FAILED)
        assert asked == ["team_1"]  # seeded once

    run(work())
