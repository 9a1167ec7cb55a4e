"""Per-key limits, the same on every backend: requests and tokens in a sliding 60-second window,
requests in flight, spend per budget period, and any other window kind described in
tenancy/limit_kinds.py (`Reservation.more`). A request reserves its worst case when it
starts (input estimate + max_tokens, and what that may cost) and settles with what it used.

A key in a team reserves the team's limits too (`Reservation.team`, counted for all the team's
keys): both are checked before either is counted, and settled together, in one step (one Lua
script on Redis), so a request refused by one leaves the other untouched.

Backends: `memory.MemoryLimiter` (one process) and `redis.RedisLimiter` (every instance sharing
one Redis; each acquire and settle is one Lua script, so there is no read-modify-write race)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

from switchboard.tenancy.keys import Period

if TYPE_CHECKING:
    from switchboard.tenancy.limit_kinds import LimitKind

WINDOW_MS = 60_000
# A request in flight holds its concurrency slot and budget reservation for this long, renewed
# every RENEW_SECONDS while it runs (limits/leases.py): a crashed instance's leases end within
# LEASE_MS. A missed renewal or two (a slow Redis) does not lose a running request's slot.
LEASE_MS = 120_000
RENEW_SECONDS = 30.0

# "limit": a kind of `Reservation.more` refused (Outcome.kind names it).
Verdict = Literal["ok", "rpm", "tpm", "concurrency", "budget", "seed", "limit"]

# (key or team id, start of the period or None for all time) -> nano-USD spent, from the ledger.
SpendSource = Callable[[str, datetime | None], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class BudgetPeriod:
    id: str
    start: datetime | None
    reset: datetime | None  # None: never resets

    @property
    def ttl_seconds(self) -> int:
        """How long the period's counter is worth keeping; 0 means forever."""
        if self.reset is None:
            return 0
        return int((self.reset - datetime.now(UTC)).total_seconds()) + 86_400


def budget_period(period: Period, now: datetime) -> BudgetPeriod:
    now = now.astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return BudgetPeriod(f"d{start:%Y%m%d}", start, start + timedelta(days=1))
    if period == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        return BudgetPeriod(f"m{start:%Y%m}", start, nxt)
    return BudgetPeriod("total", None, None)


# Structs, not dataclasses: built on every request, and msgspec builds them in C.
class Reservation(msgspec.Struct):
    key_id: str
    request_id: str
    rpm: int
    tpm: int
    max_concurrent: int
    tokens: int
    budget_nusd: int
    cost_nusd: int
    period: BudgetPeriod
    # Window kinds beyond the built-in ones (tenancy/limit_kinds.py), with their limits: the
    # key's `Limits.more` as it is, so building a reservation does not iterate them.
    more: tuple[tuple[LimitKind, int], ...] = ()
    # The key's team's limits, reserved and settled with the key's, atomically: the same
    # request (`request_id`, `tokens`, `cost_nusd`), its `key_id` the team's id.
    team: Reservation | None = None

    def subjects(self) -> tuple[Reservation, ...]:
        """The key's reservation, then its team's if it has one."""
        return (self,) if self.team is None else (self, self.team)


class Outcome(msgspec.Struct):
    """What a backend found. Counts are after the request when it was admitted. Times are epoch
    milliseconds. `retry_ms` is how long to wait before the refused request can fit (-1: never)."""

    verdict: Verdict
    requests: int
    tokens: int
    oldest_ms: int
    retry_ms: int = 0
    spent_nusd: int = 0
    reserved_nusd: int = 0
    kind: str = ""  # with verdict "limit": the refused kind's field
    used: int = 0  # with verdict "limit": what the window of that kind holds
    # The verdict is the team's (a refusal, or "seed": the team's period needs its spend);
    # the counts are then the team's too.
    team: bool = False


class Limiter(Protocol):
    async def acquire(
        self, r: Reservation, now_ms: int, seed: int | None, team_seed: int | None = None
    ) -> Outcome:
        """`seed` is the period's spend from the ledger, given only after a "seed" verdict
        (`team_seed`: the team's, after a "seed" verdict with `team`)."""
        ...

    async def settle(self, r: Reservation, tokens: int, cost_nusd: int) -> None: ...

    async def renew(self, held: Sequence[Reservation], now_ms: int) -> None:
        """Extend the leases of requests still running to `now_ms` + LEASE_MS."""
        ...

    async def close(self) -> None: ...
