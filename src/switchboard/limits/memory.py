"""The limits of one process, kept in dicts. Every method runs without awaiting, so under asyncio
each is atomic."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from switchboard.limits import LEASE_MS, WINDOW_MS, Outcome, Reservation, Verdict


@dataclass(slots=True)
class _Key:
    window: deque[tuple[int, str]] = field(default_factory=deque)
    tokens: dict[str, int] = field(default_factory=dict)
    token_sum: int = 0
    live: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (lease end, cost)
    reserved: int = 0


class MemoryLimiter:
    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}
        self._spent: dict[tuple[str, str], int] = {}

    async def acquire(self, r: Reservation, now_ms: int, seed: int | None) -> Outcome:
        k = self._keys.setdefault(r.key_id, _Key())
        while k.window and k.window[0][0] <= now_ms - WINDOW_MS:
            _, rid = k.window.popleft()
            k.token_sum -= k.tokens.pop(rid, 0)
        for rid, (until, cost) in list(k.live.items()):
            if until <= now_ms:
                del k.live[rid]
                k.reserved -= cost
        count = len(k.window)
        oldest = k.window[0][0] if k.window else now_ms

        def refuse(verdict: Verdict, retry_ms: int = 0, spent: int = 0) -> Outcome:
            return Outcome(verdict, count, k.token_sum, oldest, retry_ms, spent, k.reserved)

        if r.max_concurrent and len(k.live) >= r.max_concurrent:
            return refuse("concurrency", 1000)
        if r.rpm and count >= r.rpm:
            return refuse("rpm", oldest + WINDOW_MS - now_ms)
        if r.tpm and k.token_sum + r.tokens > r.tpm:
            return refuse("tpm", self._tokens_free_at(k, r, now_ms))
        spent = 0
        if r.budget_nusd:
            period = (r.key_id, r.period.id)
            if period not in self._spent:
                if seed is None:
                    return refuse("seed")
                self._spent[period] = seed
            spent = self._spent[period]
            if spent + k.reserved + r.cost_nusd > r.budget_nusd:
                return refuse("budget", spent=spent)
        if r.rpm or r.tpm:
            k.window.append((now_ms, r.request_id))
            k.tokens[r.request_id] = r.tokens
            k.token_sum += r.tokens
        if r.max_concurrent or r.budget_nusd:
            k.live[r.request_id] = (now_ms + LEASE_MS, r.cost_nusd)
            k.reserved += r.cost_nusd
        oldest = k.window[0][0] if k.window else now_ms
        return Outcome("ok", len(k.window), k.token_sum, oldest, 0, spent, k.reserved)

    @staticmethod
    def _tokens_free_at(k: _Key, r: Reservation, now_ms: int) -> int:
        if r.tokens > r.tpm:
            return -1
        freed = 0
        for at, rid in k.window:
            freed += k.tokens.get(rid, 0)
            if k.token_sum - freed + r.tokens <= r.tpm:
                return at + WINDOW_MS - now_ms
        return WINDOW_MS

    async def settle(self, r: Reservation, tokens: int, cost_nusd: int) -> None:
        k = self._keys.get(r.key_id)
        if k is None:
            return
        if r.request_id in k.tokens:
            k.token_sum += tokens - k.tokens[r.request_id]
            k.tokens[r.request_id] = tokens
        lease = k.live.pop(r.request_id, None)
        if lease is not None:
            k.reserved -= lease[1]
        period = (r.key_id, r.period.id)
        if cost_nusd and period in self._spent:
            self._spent[period] += cost_nusd

    async def close(self) -> None:
        return None
