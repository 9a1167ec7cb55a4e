"""Limits shared by every instance through one Redis: each acquire and settle is a single Lua
script (one round trip, a key and its team together), so concurrent instances never
read-modify-write the same counter."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any, get_args

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from switchboard.errors import Overloaded
from switchboard.limits import LEASE_MS, WINDOW_MS, Outcome, Reservation, Verdict
from switchboard.log import events as log

_VERDICTS: dict[str, Verdict] = {v: v for v in get_args(Verdict)}


def _script(name: str) -> str:
    return resources.files("switchboard.limits").joinpath(name).read_text("utf-8")


class RedisLimiter:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(url)
        self._prefix = prefix
        self._acquire = self._redis.register_script(_script("acquire.lua"))
        self._settle = self._redis.register_script(_script("settle.lua"))
        self._renew = self._redis.register_script(_script("renew.lua"))

    def _owner_keys(self, r: Reservation) -> list[str]:
        # One hash tag per owner (a key, or a team): a Redis Cluster would keep each owner's
        # counters in one slot, but a key in a team is admitted by one script over both, so
        # teams need a single Redis (docs/tenancy.md).
        base = f"{self._prefix}:{{{r.key_id}}}"
        keys = [
            f"{base}:win",
            f"{base}:tok",
            f"{base}:live",
            f"{base}:res",
            f"{base}:spent:{r.period.id}",
        ]
        if r.more:
            for kind, _ in r.more:
                keys += (f"{base}:more:{kind.field}:win", f"{base}:more:{kind.field}:amt")
        return keys

    def _keys(self, r: Reservation) -> list[str]:
        """The Redis keys of the request's subjects: its key's, then its team's."""
        if r.team is None:
            return self._owner_keys(r)
        return self._owner_keys(r) + self._owner_keys(r.team)

    async def acquire(
        self, r: Reservation, now_ms: int, seed: int | None, team_seed: int | None = None
    ) -> Outcome:
        args: list[Any] = [r.request_id, now_ms, LEASE_MS, WINDOW_MS, r.tokens, r.cost_nusd]
        for owner, owner_seed in ((r, seed), (r.team, team_seed)):
            if owner is None:
                continue
            args += (
                owner.rpm,
                owner.tpm,
                owner.max_concurrent,
                owner.budget_nusd,
                -1 if owner_seed is None else owner_seed,
                owner.period.ttl_seconds,
                len(owner.more),
            )
            for kind, limit in owner.more:
                args += (limit, kind.window_ms, int(kind.amount == "tokens"))
        try:
            reply = await self._acquire(keys=self._keys(r), args=args)
        except RedisError as exc:
            # Refuse rather than admit unlimited: a budget must not be overspent while Redis is
            # down. 529 tells the SDKs to retry later.
            raise Overloaded(
                f"limits: the gateway cannot reach its rate-limit store ({type(exc).__name__})",
                retry_after=1,
            ) from None
        verdict = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        n = [int(x) for x in reply[1:10]]
        o = Outcome(_VERDICTS[verdict], n[0], n[1], n[2], n[3], n[4], n[5], team=n[8] == 2)
        if o.verdict == "limit":
            owner = r.team if o.team and r.team is not None else r
            o.kind, o.used = owner.more[n[6] - 1][0].field, n[7]
        return o

    async def settle(self, r: Reservation, tokens: int, cost_nusd: int) -> None:
        try:
            args: list[Any] = [r.request_id, tokens, cost_nusd]
            for owner in r.subjects():
                args.append(len(owner.more))
                args += (int(kind.settles) for kind, _ in owner.more)
            await self._settle(keys=self._keys(r), args=args)
        except RedisError:
            # The reply has gone out; the lease ends by itself (LEASE_MS) and the ledger still
            # has the cost, which seeds the next period's counter.
            log.exception("settling request %s in Redis failed", r.request_id)

    async def renew(self, held: Sequence[Reservation], now_ms: int) -> None:
        """One round trip for all of them: a pipeline of one small script per lease."""
        pipe = self._redis.pipeline(transaction=False)
        for r in held:
            for owner in r.subjects():
                await self._renew(
                    keys=self._owner_keys(owner)[2:4],
                    args=[r.request_id, now_ms + LEASE_MS, LEASE_MS + WINDOW_MS],
                    client=pipe,
                )
        try:
            await pipe.execute()
        except RedisError:
            log.exception("renewing %d leases in Redis failed", len(held))

    async def close(self) -> None:
        await self._redis.aclose()
