"""A key's and its team's limits, on both limiter backends: a request must fit both, is counted
against both only if it does (a refusal by one leaves the other untouched), and is settled
against both. On Redis, admissions racing from two instances never overshoot a team's limit."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter

from switchboard.limits import Reservation

from .limiters import Factory, go, opened
from .test_limits import NOW, res

_ids = itertools.count()


def req(key: Reservation, team: Reservation | None) -> Reservation:
    """One request of `key` in `team` (each `res`, a template of limits), with a fresh id."""
    r = copy.copy(key)
    r.request_id = f"r{next(_ids)}"
    if team is not None:
        r.team = copy.copy(team)
        r.team.request_id, r.team.tokens, r.team.cost_nusd = r.request_id, r.tokens, r.cost_nusd
    return r


def test_a_team_limit_counts_all_its_keys_and_a_refusal_counts_nothing(
    make_limiter: Factory,
) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            team = res("team_t", rpm=3)
            a, b = res("key_a", rpm=5), res("key_b", rpm=5)
            verdicts = []
            for i in range(5):
                o = await lim.acquire(req(a if i % 2 else b, team), NOW + i, None)
                verdicts.append((o.verdict, o.team))
            assert verdicts == [("ok", False)] * 3 + [("rpm", True)] * 2
            # The team's refusals counted nothing against the keys: key_b had 2 requests
            # admitted and 1 refused by the team, so 3 more fit its own limit of 5.
            alone = [await lim.acquire(req(b, None), NOW + 10 + i, None) for i in range(4)]
            assert [o.verdict for o in alone] == ["ok", "ok", "ok", "rpm"]

    go(work())


def test_a_refusal_by_the_key_counts_nothing_against_the_team(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            team = res("team_t", rpm=2)
            a, b = res("key_a", rpm=1), res("key_b")
            assert (await lim.acquire(req(a, team), NOW, None)).verdict == "ok"
            for i in range(3):  # key_a is at its own limit: the team is not charged
                o = await lim.acquire(req(a, team), NOW + 1 + i, None)
                assert (o.verdict, o.team) == ("rpm", False)
            assert (await lim.acquire(req(b, team), NOW + 5, None)).verdict == "ok"
            o = await lim.acquire(req(b, team), NOW + 6, None)
            assert (o.verdict, o.team, o.requests) == ("rpm", True, 2)

    go(work())


def test_team_concurrency_and_tokens_settle_with_the_key(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            team = res("team_t", conc=2, tpm=1000)
            a, b = res("key_a", tokens=400), res("key_b", tokens=400)
            first, second = req(a, team), req(b, team)
            assert (await lim.acquire(first, NOW, None)).verdict == "ok"
            assert (await lim.acquire(second, NOW, None)).verdict == "ok"
            o = await lim.acquire(req(a, team), NOW + 1, None)
            assert (o.verdict, o.team) == ("concurrency", True)
            await lim.settle(first, 100, 0)  # frees a slot; 100 tokens used, not 400
            o = await lim.acquire(req(b, team), NOW + 2, None)
            assert (o.verdict, o.team) == ("ok", False)  # 100 + 400 + 400 <= 1000
            await lim.settle(second, 400, 0)
            o = await lim.acquire(req(a, team), NOW + 3, None)
            assert (o.verdict, o.team, o.tokens) == ("tpm", True, 900)

    go(work())


def test_a_team_budget_is_seeded_then_spent_by_every_key(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            team = res("team_t", budget=100)
            a, b = res("key_a", cost=30), res("key_b", budget=1000, cost=30)
            seed = await lim.acquire(req(a, team), NOW, None)
            assert (seed.verdict, seed.team) == ("seed", True)
            first = req(a, team)
            assert (await lim.acquire(first, NOW, None, 10)).verdict == "ok"  # 10 spent
            # key_b's own budget needs its seed first, then fits; the team's is seeded.
            assert (await lim.acquire(req(b, team), NOW, None)).verdict == "seed"
            second = req(b, team)
            assert (await lim.acquire(second, NOW, 0)).verdict == "ok"
            await lim.settle(first, 0, 25)
            await lim.settle(second, 0, 25)  # team spent 10 + 50 = 60: one more of 30 fits
            assert (await lim.acquire(req(a, team), NOW + 1, None)).verdict == "ok"
            o = await lim.acquire(req(b, team), NOW + 2, 0)
            assert (o.verdict, o.team, o.spent_nusd, o.reserved_nusd) == ("budget", True, 60, 30)

    go(work())


def test_two_instances_never_overshoot_a_team(make_limiter: Factory) -> None:
    """Admissions racing from two limiters (two gateways on one Redis) for five keys of one
    team: exactly the team's limit gets through, and every key stays within its own."""

    async def work() -> None:
        async with opened(make_limiter) as one, opened(make_limiter) as two:
            team = res("team_t", rpm=12, conc=30)
            keys = [res(f"key_{i}", rpm=4) for i in range(5)]
            tries = [(i % 5, req(keys[i % 5], team)) for i in range(60)]
            found = await asyncio.gather(
                *((one if n % 2 else two).acquire(r, NOW, None) for n, (_, r) in enumerate(tries))
            )
            admitted = Counter(
                k for (k, _), o in zip(tries, found, strict=True) if o.verdict == "ok"
            )
            assert sum(admitted.values()) == 12
            assert all(n <= 4 for n in admitted.values())
            assert Counter((o.verdict, o.team) for o in found)[("ok", False)] == 12

    go(work())
