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


class Leases:
    def __init__(self, limiter: Limiter, every: float = RENEW_SECONDS) -> None:
        self._limiter = limiter
        self._every = every
        self._held: dict[str, Reservation] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, r: Reservation) -> None:
        self._held[r.request_id] = r

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
            if self._held:
                try:
                    await self._limiter.renew(list(self._held.values()), int(time.time() * 1000))
                except Exception:  # noqa: BLE001 - the next round tries again
                    log.exception("renewing %d leases failed", len(self._held))
