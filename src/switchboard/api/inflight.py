"""The requests in flight, and the one timer that looks after all of them.

Every tick (while any request is in flight) it cancels a request whose body is overdue: a
timer per request was a tenth of a small request's CPU, and nearly every body has arrived
before its request starts. A body deadline holds to within a tick."""

from __future__ import annotations

import asyncio

from switchboard.api.exchange import Exchange

TICK = 0.1  # seconds


class InFlight:
    def __init__(self) -> None:
        self.exchanges: set[Exchange] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, ex: Exchange) -> None:
        self.exchanges.add(ex)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(TICK, self._sweep)

    def discard(self, ex: Exchange) -> None:
        self.exchanges.discard(ex)

    def counts(self) -> tuple[int, int]:
        """(requests, streams) being served, for the metrics."""
        return len(self.exchanges), sum(1 for ex in self.exchanges if ex.streaming)

    def _sweep(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        for ex in self.exchanges:
            if ex.body_deadline and now >= ex.body_deadline:
                ex.body_deadline = 0.0
                ex.body_expired = True
                ex.task.cancel()
        if self.exchanges:
            self._timer = asyncio.get_running_loop().call_later(TICK, self._sweep)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
