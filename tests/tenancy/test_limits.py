"""The limiter backends behave the same: the in-process one and the Redis one shared by several
instances (where concurrent admissions must not overshoot by a single request)."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime

import pytest

from switchboard.errors import Overloaded
from switchboard.limits import LEASE_MS, Reservation, budget_period
from switchboard.limits import leases as leases_module
from switchboard.limits.leases import Leases
from switchboard.limits.memory import MemoryLimiter
from switchboard.limits.redis import RedisLimiter

from .limiters import Factory, go, opened

NOW = 1_700_000_000_000
_ids = itertools.count()


def res(key: str = "k", *, rpm: int = 0, tpm: int = 0, conc: int = 0, tokens: int = 0,
        budget: int = 0, cost: int = 0) -> Reservation:  # fmt: skip
    return Reservation(
        key_id=key,
        request_id=f"r{next(_ids)}",
        rpm=rpm,
        tpm=tpm,
        max_concurrent=conc,
        tokens=tokens,
        budget_nusd=budget,
        cost_nusd=cost,
        period=budget_period("day", datetime.fromtimestamp(NOW / 1000, UTC)),
    )


def test_requests_per_minute_is_a_sliding_window(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            for i in range(3):
                o = await lim.acquire(res(rpm=3), NOW + i * 1000, None)
                assert (o.verdict, o.requests) == ("ok", i + 1)
            refused = await lim.acquire(res(rpm=3), NOW + 30_000, None)
            assert refused.verdict == "rpm"
            assert refused.retry_ms == 30_000  # when the first request leaves the window
            later = await lim.acquire(res(rpm=3), NOW + 60_001, None)
            assert (later.verdict, later.requests) == ("ok", 3)

    go(work())


def test_tokens_are_reserved_then_settled_with_the_real_usage(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            first = res(tpm=1000, tokens=600)
            assert (await lim.acquire(first, NOW, None)).tokens == 600
            assert (await lim.acquire(res(tpm=1000, tokens=600), NOW + 1, None)).verdict == "tpm"
            await lim.settle(first, 100, 0)  # it used far less than it reserved
            o = await lim.acquire(res(tpm=1000, tokens=600), NOW + 2, None)
            assert (o.verdict, o.tokens) == ("ok", 700)

    go(work())


def test_concurrent_requests(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            a, b = res(conc=2), res(conc=2)
            assert (await lim.acquire(a, NOW, None)).verdict == "ok"
            assert (await lim.acquire(b, NOW, None)).verdict == "ok"
            assert (await lim.acquire(res(conc=2), NOW, None)).verdict == "concurrency"
            await lim.settle(a, 0, 0)
            assert (await lim.acquire(res(conc=2), NOW, None)).verdict == "ok"

    go(work())


def test_a_lease_never_settled_expires(make_limiter: Factory) -> None:
    """A crashed instance's requests hold their slots and reservations only for LEASE_MS;
    the live ones taken after them still count."""

    async def work() -> None:
        async with opened(make_limiter) as lim:
            crashed = [res(conc=3, budget=100, cost=30) for _ in range(2)]
            for i, r in enumerate(crashed):
                assert (await lim.acquire(r, NOW + i, 0)).verdict == "ok"
            later = res(conc=3, budget=100, cost=30)
            assert (await lim.acquire(later, NOW + 10, 0)).verdict == "ok"
            assert (await lim.acquire(res(conc=3), NOW + 20, 0)).verdict == "concurrency"
            # The first two leases have ended, the third has not.
            o = await lim.acquire(res(conc=3, budget=100, cost=30), NOW + LEASE_MS + 5, 0)
            assert (o.verdict, o.reserved_nusd) == ("ok", 60)
            assert (await lim.acquire(res(conc=3), NOW + LEASE_MS + 6, 0)).verdict == "ok"
            refused = await lim.acquire(res(conc=3), NOW + LEASE_MS + 7, 0)
            assert refused.verdict == "concurrency"

    go(work())


def test_a_renewed_lease_outlives_its_first_term(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            running, done = res("a", conc=1), res("b", conc=1)
            assert (await lim.acquire(running, NOW, 0)).verdict == "ok"
            assert (await lim.acquire(done, NOW, 0)).verdict == "ok"
            await lim.settle(done, 0, 0)
            await lim.renew([running, done], NOW + LEASE_MS - 1000)
            # The running one still holds its slot past its first term; the settled one's
            # renewal brought nothing back.
            held = await lim.acquire(res("a", conc=1), NOW + LEASE_MS + 10, 0)
            assert held.verdict == "concurrency"
            assert (await lim.acquire(res("b", conc=1), NOW + LEASE_MS + 10, 0)).verdict == "ok"
            later = await lim.acquire(res("a", conc=1), NOW + 2 * LEASE_MS, 0)
            assert later.verdict == "ok"

    go(work())


async def renewing(leases: Leases, seconds: float) -> None:
    """The renewal loop running for `seconds`, then stopped."""
    leases.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await leases.stop()


def test_leases_are_renewed_while_held_and_not_after(make_limiter: Factory) -> None:
    """The renewal loop, on the real clock: a held reservation outlives LEASE_MS, a released
    one does not."""

    async def work() -> None:
        async with opened(make_limiter) as lim:
            leases = Leases(lim, every=0.05)
            t0 = int(time.time() * 1000)
            held, released = res("a", conc=1), res("b", conc=1)
            for r in (held, released):
                assert (await lim.acquire(r, t0, 0)).verdict == "ok"
                leases.hold(r)
            leases.release(released)
            await renewing(leases, 0.3)
            after = t0 + LEASE_MS + 120
            assert (await lim.acquire(res("a", conc=1), after, 0)).verdict == "concurrency"
            assert (await lim.acquire(res("b", conc=1), after, 0)).verdict == "ok"

    go(work())


def test_a_lease_held_past_the_longest_request_is_let_go(
    make_limiter: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement lost to a bug must not hold the key's slot for ever."""
    monkeypatch.setattr(leases_module, "MAX_HOLD_SECONDS", 0.12)

    async def work() -> None:
        async with opened(make_limiter) as lim:
            leases = Leases(lim, every=0.05)
            t0 = int(time.time() * 1000)
            forgotten = res("a", conc=1)
            assert (await lim.acquire(forgotten, t0, 0)).verdict == "ok"
            leases.hold(forgotten)
            await renewing(leases, 0.4)
            # Renewed for the first 0.12 s only: the lease ends LEASE_MS after that.
            after = t0 + LEASE_MS + 250
            assert (await lim.acquire(res("a", conc=1), after, 0)).verdict == "ok"

    go(work())


def test_budget_counts_spend_and_reservations(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            first = res(budget=100, cost=40)
            assert (await lim.acquire(first, NOW, None)).verdict == "seed"
            o = await lim.acquire(first, NOW, 30)  # 30 already spent, says the ledger
            assert (o.verdict, o.spent_nusd, o.reserved_nusd) == ("ok", 30, 40)
            refused = await lim.acquire(res(budget=100, cost=40), NOW, None)
            assert (refused.verdict, refused.spent_nusd, refused.reserved_nusd) == (
                "budget",
                30,
                40,
            )
            await lim.settle(first, 10, 25)  # cheaper than its worst case
            o = await lim.acquire(res(budget=100, cost=40), NOW, None)
            assert (o.verdict, o.spent_nusd) == ("ok", 55)
            assert (await lim.acquire(res(budget=100, cost=6), NOW, None)).verdict == "budget"

    go(work())


def test_limits_hold_exactly_across_instances_under_concurrency(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as one, opened(make_limiter) as two:
            rpm = [(one if i % 2 else two).acquire(res("a", rpm=25), NOW, None) for i in range(100)]
            verdicts = [o.verdict for o in await asyncio.gather(*rpm)]
            assert (verdicts.count("ok"), verdicts.count("rpm")) == (25, 75)

            await one.acquire(res("b", budget=1000, cost=1), NOW, 0)  # seed the period
            spend = [
                (one if i % 2 else two).acquire(res("b", budget=1000, cost=100), NOW, None)
                for i in range(50)
            ]
            verdicts = [o.verdict for o in await asyncio.gather(*spend)]
            assert (verdicts.count("ok"), verdicts.count("budget")) == (9, 41)

    go(work())


def test_an_unreachable_redis_refuses_with_a_retryable_error() -> None:
    async def work() -> None:
        lim = RedisLimiter("redis://127.0.0.1:1/0", "unused")
        try:
            with pytest.raises(Overloaded, match=r"^limits: the gateway cannot reach its rate"):
                await lim.acquire(res(rpm=1), NOW, None)
        finally:
            await lim.close()

    go(work())


def test_the_in_process_window_is_bounded_by_time_not_by_the_rate() -> None:
    """10,000 requests in one second keep 10 window entries (one per 100 ms), count exactly,
    and settling a request whose entry has left the window changes nothing in it."""

    async def work() -> None:
        lim = MemoryLimiter()
        early = res(rpm=1_000_000, tpm=10**9, tokens=5)
        await lim.acquire(early, NOW, None)
        for i in range(1, 10_000):
            await lim.acquire(res(rpm=1_000_000, tpm=10**9, tokens=5), NOW + i // 10, None)
        state = lim._keys["k"]
        assert len(state.window) == 10
        assert (state.requests, state.token_sum) == (10_000, 50_000)
        o = await lim.acquire(res(rpm=1_000_000, tpm=10**9, tokens=5), NOW + 60_050, None)
        assert (o.requests, o.tokens) == (10_000 - 1_000 + 1, 45_005)  # the first 100 ms left
        await lim.settle(early, 1, 0)  # its bucket is gone: the window's sum stays right
        assert lim._keys["k"].token_sum == 45_005
        assert early.request_id not in lim._keys["k"].pending

    go(work())
