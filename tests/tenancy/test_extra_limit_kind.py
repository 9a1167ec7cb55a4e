"""A limit kind registered here, in the test, and nowhere else: requests per day, and tokens per
hour. Described once (a LimitKind with no `Limits` attribute of its own), both limiters enforce
it with no code of their own: the in-process one and the Redis one (the same Lua scripts,
exact across instances), reached through admission as a client's request is."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
from sqlalchemy import Integer

from switchboard.catalog import Catalog, ModelEntry
from switchboard.config import parse_config
from switchboard.errors import RateLimited
from switchboard.limits import Reservation, budget_period
from switchboard.limits.leases import Leases
from switchboard.record import FAILED
from switchboard.tenancy.admission import Admission
from switchboard.tenancy.auth import Principal
from switchboard.tenancy.keys import ApiKey, Limits
from switchboard.tenancy.limit_kinds import LimitKind

from .limiters import Factory, opened

RPD = LimitKind(
    field="rpd",
    option="--rpd",
    help="Requests per day.",
    column="rpd",
    column_type=Integer(),
    attr="",  # kept in Limits.more: nothing else knows of it
    unit="requests",
    shape="window",
    window_ms=86_400_000,
    amount="request",
)
TPH = LimitKind(
    field="tph",
    option="--tph",
    help="Tokens per hour.",
    column="tph",
    column_type=Integer(),
    attr="",
    unit="tokens",
    shape="window",
    window_ms=3_600_000,
    amount="tokens",
)

NOW = 1_700_000_000_000
_ids = itertools.count()

ENTRY = Catalog(
    parse_config(
        {
            "providers": [{"name": "p", "kind": "scripted"}],
            "models": [{"id": "m", "channels": [{"provider": "p", "model": "a"}]}],
        },
        "test",
        env={},
    )
).resolve("m")


def principal(limits: Limits) -> Principal:
    key = ApiKey(f"key_{next(_ids)}", "daily", "sk-sb-abcd", limits, datetime.now(UTC))
    return Principal(key.name, key=key)


def entry() -> ModelEntry:
    assert ENTRY is not None
    return ENTRY


async def _no_spend(key_id: str, since: datetime | None) -> int:
    return 0


def res(limits: Limits, tokens: int = 0) -> Reservation:
    return Reservation(
        key_id="k",
        request_id=f"r{next(_ids)}",
        rpm=0,
        tpm=0,
        max_concurrent=0,
        tokens=tokens,
        budget_nusd=0,
        cost_nusd=0,
        period=budget_period("day", datetime.fromtimestamp(NOW / 1000, UTC)),
        more=limits.more,
    )


def test_the_kind_rides_in_the_keys_limits_and_is_shown() -> None:
    limits = RPD.set(Limits(rpm=100), 3)
    assert limits.rate_limited
    assert (RPD.get(limits), limits.rpm) == (3, 100)
    assert RPD.get(RPD.set(limits, None)) is None
    shown = principal(limits).key
    assert shown is not None
    assert (shown.public()["rpd"], shown.public()["rpm"]) == (3, 100)


def test_admission_refuses_the_request_past_the_days_limit(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            admission = Admission(lim, _no_spend, Leases(lim))
            who = principal(RPD.set(Limits(rpm=100), 3))
            for _ in range(3):
                ticket = await admission.admit(who, "m", entry(), 10, 10)
                await ticket.settle(FAILED)
            with pytest.raises(RateLimited) as refused:
                await admission.admit(who, "m", entry(), 10, 10)
            assert refused.value.message.startswith(
                "rate limit: key 'daily' has used 3 of its 3 requests per day (rpd); retry in "
            )
            # A day's wait, rounded to whole seconds: the first request leaves the window then.
            assert 86_390 <= (refused.value.retry_after or 0) <= 86_400

    asyncio.run(asyncio.wait_for(work(), 30))


def test_a_tokens_kind_is_reserved_then_settled_with_the_real_usage(
    make_limiter: Factory,
) -> None:
    async def work() -> None:
        async with opened(make_limiter) as lim:
            limits = TPH.set(Limits(), 1000)
            first = res(limits, tokens=600)
            assert (await lim.acquire(first, NOW, None)).verdict == "ok"
            refused = await lim.acquire(res(limits, tokens=600), NOW + 1, None)
            assert (refused.verdict, refused.kind, refused.used) == ("limit", "tph", 600)
            assert refused.retry_ms == 3_600_000 - 1  # when the first request leaves the window
            await lim.settle(first, 100, 0)  # it used far less than it reserved
            # A second later (the in-process window keeps 100 ms buckets, which leave together).
            assert (await lim.acquire(res(limits, tokens=600), NOW + 1000, None)).verdict == "ok"
            never = await lim.acquire(res(limits, tokens=1001), NOW + 1001, None)
            assert (never.verdict, never.retry_ms) == ("limit", -1)
            later = await lim.acquire(res(limits, tokens=900), NOW + 3_600_001, None)
            assert later.verdict == "limit"  # the second request (600) is still in the window
            gone = await lim.acquire(res(limits, tokens=900), NOW + 3_601_001, None)
            assert gone.verdict == "ok"

    asyncio.run(asyncio.wait_for(work(), 30))


def test_the_kind_holds_exactly_across_instances_under_concurrency(make_limiter: Factory) -> None:
    async def work() -> None:
        async with opened(make_limiter) as one, opened(make_limiter) as two:
            limits = RPD.set(Limits(), 25)
            tries = [(one if i % 2 else two).acquire(res(limits), NOW, None) for i in range(100)]
            outcomes = await asyncio.gather(*tries)
            verdicts = [o.verdict for o in outcomes]
            assert (verdicts.count("ok"), verdicts.count("limit")) == (25, 75)
            assert {o.kind for o in outcomes if o.verdict == "limit"} == {"rpd"}

    asyncio.run(asyncio.wait_for(work(), 30))


def test_a_key_without_the_kind_builds_its_reservation_without_it() -> None:
    """The hot path: a reservation takes the key's `Limits.more` as it is, no per-request
    iteration over the descriptions."""
    limits = RPD.set(Limits(rpm=5), 3)
    assert res(limits).more is limits.more
    assert Limits(rpm=5).more == ()
