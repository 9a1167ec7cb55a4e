"""The reservations this process holds, renewed while their requests run.

A reservation's concurrency slot and budget hold are leases of LEASE_MS: a request that runs
longer renews its lease every RENEW_SECONDS, and the leases of an instance that crashed end
within LEASE_MS, instead of blocking the key's concurrency for as long as any request could
last."""

from __future__ import annotations

import asyncio
import contextlib
import time

from switchboard.limits import RENEW_SECONDS, Limiter, Reservation
from switchboard.log import events as log

# Renewed for at most this long: a request whose settlement was somehow lost must not hold
# its key's slot for ever. A stream that really runs longer (only its idle gaps are bounded)
# frees its slot early, LEASE_MS after this.
MAX_HOLD_SECONDS = 3600.0


class Leases:
    def __init__(self, limiter: Limiter, every: float = RENEW_SECONDS) -> None:
        self._limiter = limiter
        self._every = every
        self._held: dict[str, tuple[Reservation, float]] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, r: Reservation) -> None:
        self._held[r.request_id] = (r, time.monotonic())

    def release(self, r: Reservation) -> None:
        self._held.pop(r.request_id, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            oldest = time.monotonic() - MAX_HOLD_SECONDS
            for rid in [rid for rid, (_, since) in self._held.items() if since < oldest]:
                log.warning("request %s held its lease for an hour; no longer renewed", rid)
                del self._held[rid]
            if self._held:
                held = [r for r, _ in self._held.values()]
                try:
                    await self._limiter.renew(held, int(time.time() * 1000))
                except Exception:  # noqa: BLE001 - the next round tries again
                    log.exception("renewing %d leases failed", len(held))
