"""The limits of one process, kept in dicts. Every method runs without awaiting, so under asyncio
each is atomic: a key's and its team's limits are both checked, then both counted, in one step."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from switchboard.limits import LEASE_MS, WINDOW_MS, Outcome, Reservation, Verdict

# Requests this close after a bucket's first request share its bucket: the window keeps one
# entry per bucket, not per request, so its size is bounded by the window, not by the rate
# (at 1,600 requests a second, an entry per request was ~100k entries and ~25 MiB per key).
# Requests leave the window with their bucket's first one, at most this much early.
BUCKET_MS = 100


@dataclass(slots=True)
class _Bucket:
    start: int  # the first request's time: the window's oldest when this bucket is first
    requests: int = 0
    tokens: int = 0
    expired: bool = False


@dataclass(slots=True)
class _Key:
    window: deque[_Bucket] = field(default_factory=deque)
    requests: int = 0
    token_sum: int = 0
    # Requests admitted and not yet settled: their bucket and what they reserved, so that
    # settling corrects the bucket with the real usage.
    pending: dict[str, tuple[_Bucket, int]] = field(default_factory=dict)
    live: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (lease end, cost)
    reserved: int = 0
    more: dict[str, _Window] = field(default_factory=dict)  # kind field -> its window


@dataclass(slots=True)
class _Counted:
    start: int
    amount: int = 0
    expired: bool = False


@dataclass(slots=True)
class _Window:
    """The window of one kind of `Reservation.more`, in buckets like the built-in one."""

    buckets: deque[_Counted] = field(default_factory=deque)
    total: int = 0
    pending: dict[str, tuple[_Counted, int]] = field(default_factory=dict)  # tokens kinds

    def expire(self, now_ms: int, window_ms: int) -> None:
        buckets = self.buckets
        while buckets and buckets[0].start <= now_ms - window_ms:
            gone = buckets.popleft()
            gone.expired = True
            self.total -= gone.amount

    def free_at(self, limit: int, amount: int, now_ms: int, window_ms: int) -> int:
        """How long until `amount` more fits under `limit` (-1: never)."""
        if amount > limit:
            return -1
        freed = 0
        for bucket in self.buckets:
            freed += bucket.amount
            if self.total - freed + amount <= limit:
                return bucket.start + window_ms - now_ms
        return window_ms

    def add(self, rid: str, amount: int, settles: bool, now_ms: int) -> None:
        bucket = self.buckets[-1] if self.buckets else None
        if bucket is None or now_ms - bucket.start >= BUCKET_MS:
            bucket = _Counted(now_ms)
            self.buckets.append(bucket)
        bucket.amount += amount
        self.total += amount
        if settles:
            self.pending[rid] = (bucket, amount)


def _refuse(k: _Key, now_ms: int, verdict: Verdict, retry_ms: int = 0, spent: int = 0) -> Outcome:
    """A refusal, with the owner's state as its headers show it."""
    oldest = k.window[0].start if k.window else now_ms
    return Outcome(verdict, k.requests, k.token_sum, oldest, retry_ms, spent, k.reserved)


class MemoryLimiter:
    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}
        self._spent: dict[tuple[str, str], int] = {}

    async def acquire(
        self, r: Reservation, now_ms: int, seed: int | None, team_seed: int | None = None
    ) -> Outcome:
        keys = self._keys
        k = keys.get(r.key_id)
        if k is None:  # (not setdefault: that would build a _Key for every request)
            k = keys[r.key_id] = _Key()
        spent = self._check(k, r, now_ms, seed)
        if isinstance(spent, Outcome):
            return spent
        team = r.team
        if team is not None:  # both are checked before either is counted
            tk = keys.get(team.key_id)
            if tk is None:
                tk = keys[team.key_id] = _Key()
            in_team = self._check(tk, team, now_ms, team_seed)
            if isinstance(in_team, Outcome):
                in_team.team = True
                return in_team
            self._count(tk, team, now_ms)
        self._count(k, r, now_ms)
        oldest = k.window[0].start if k.window else now_ms
        return Outcome("ok", k.requests, k.token_sum, oldest, 0, spent, k.reserved)

    def _check(self, k: _Key, r: Reservation, now_ms: int, seed: int | None) -> Outcome | int:
        """Whether `r` fits its owner's limits (`k`), counting nothing: the period's spend if
        it does, else the refusal."""
        while k.window and k.window[0].start <= now_ms - WINDOW_MS:
            gone = k.window.popleft()
            gone.expired = True
            k.requests -= gone.requests
            k.token_sum -= gone.tokens
        # Leases all last LEASE_MS and are added in time order: the expired ones are first
        # (a scan of every live lease made admission O(requests in flight)).
        live = k.live
        while live:
            rid, (until, cost) = next(iter(live.items()))
            if until > now_ms:
                break
            del live[rid]
            k.reserved -= cost
        if r.max_concurrent and len(k.live) >= r.max_concurrent:
            return _refuse(k, now_ms, "concurrency", 1000)
        if r.rpm and k.requests >= r.rpm:
            oldest = k.window[0].start if k.window else now_ms
            return _refuse(k, now_ms, "rpm", oldest + WINDOW_MS - now_ms)
        if r.tpm and k.token_sum + r.tokens > r.tpm:
            return _refuse(k, now_ms, "tpm", self._tokens_free_at(k, r, now_ms))
        more = r.more  # most keys have none: the loop below is skipped, not run empty
        if more:
            for kind, limit in more:
                w = k.more.get(kind.field)
                if w is None:
                    w = k.more[kind.field] = _Window()
                w.expire(now_ms, kind.window_ms)
                amount = r.tokens if kind.amount == "tokens" else 1
                if w.total + amount > limit:
                    free_at = w.free_at(limit, amount, now_ms, kind.window_ms)
                    o = _refuse(k, now_ms, "limit", free_at)
                    o.kind, o.used = kind.field, w.total
                    return o
        spent = 0
        if r.budget_nusd:
            period = (r.key_id, r.period.id)
            if period not in self._spent:
                if seed is None:
                    return _refuse(k, now_ms, "seed")
                self._spent[period] = seed
            spent = self._spent[period]
            if spent + k.reserved + r.cost_nusd > r.budget_nusd:
                return _refuse(k, now_ms, "budget", spent=spent)
        return spent

    @staticmethod
    def _count(k: _Key, r: Reservation, now_ms: int) -> None:
        """Count an admitted request against its owner's limits."""
        if r.rpm or r.tpm:
            bucket = k.window[-1] if k.window else None
            if bucket is None or now_ms - bucket.start >= BUCKET_MS:
                bucket = _Bucket(now_ms)
                k.window.append(bucket)
            bucket.requests += 1
            bucket.tokens += r.tokens
            k.requests += 1
            k.token_sum += r.tokens
            k.pending[r.request_id] = (bucket, r.tokens)
        if r.more:
            for kind, _ in r.more:
                amount = r.tokens if kind.amount == "tokens" else 1
                k.more[kind.field].add(r.request_id, amount, kind.settles, now_ms)
        if r.max_concurrent or r.budget_nusd:
            k.live[r.request_id] = (now_ms + LEASE_MS, r.cost_nusd)
            k.reserved += r.cost_nusd

    @staticmethod
    def _tokens_free_at(k: _Key, r: Reservation, now_ms: int) -> int:
        if r.tokens > r.tpm:
            return -1
        freed = 0
        for bucket in k.window:
            freed += bucket.tokens
            if k.token_sum - freed + r.tokens <= r.tpm:
                return bucket.start + WINDOW_MS - now_ms
        return WINDOW_MS

    async def settle(self, r: Reservation, tokens: int, cost_nusd: int) -> None:
        self._settle(r, tokens, cost_nusd)
        if r.team is not None:
            self._settle(r.team, tokens, cost_nusd)

    def _settle(self, r: Reservation, tokens: int, cost_nusd: int) -> None:
        k = self._keys.get(r.key_id)
        if k is None:
            return
        pending = k.pending.pop(r.request_id, None)
        if pending is not None:
            bucket, reserved = pending
            bucket.tokens += tokens - reserved
            if not bucket.expired:
                k.token_sum += tokens - reserved
        lease = k.live.pop(r.request_id, None)
        if lease is not None:
            k.reserved -= lease[1]
        if r.more:
            self._settle_more(k, r, tokens)
        period = (r.key_id, r.period.id)
        if cost_nusd and period in self._spent:
            self._spent[period] += cost_nusd

    @staticmethod
    def _settle_more(k: _Key, r: Reservation, tokens: int) -> None:
        for kind, _ in r.more:
            w = k.more.get(kind.field)
            held = w.pending.pop(r.request_id, None) if w is not None else None
            if w is not None and held is not None:
                held[0].amount += tokens - held[1]
                if not held[0].expired:
                    w.total += tokens - held[1]

    async def renew(self, held: Sequence[Reservation], now_ms: int) -> None:
        for r in (owner for each in held for owner in each.subjects()):
            k = self._keys.get(r.key_id)
            lease = k.live.pop(r.request_id, None) if k is not None else None
            if k is not None and lease is not None:
                # Re-added at the end: now + LEASE_MS is the latest end of all, so the dict
                # stays in the order leases end (acquire relies on it).
                k.live[r.request_id] = (now_ms + LEASE_MS, lease[1])

    async def close(self) -> None:
        return None
