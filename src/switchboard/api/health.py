"""`GET /health`: 200 once the gateway can serve; 503 while it refuses billable requests because
usage cannot be recorded (neither the database nor the ledger journal takes rows), so a load
balancer sends traffic to another instance."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.api.exchange import Exchange


class Health:
    def __init__(self, ready: Callable[[], bool]) -> None:
        self._ready = ready

    async def __call__(self, ex: Exchange) -> None:
        if self._ready():
            await ex.respond(200, b'{"status":"ok"}')
        else:
            await ex.respond(503, b'{"status":"unavailable","reason":"usage cannot be recorded"}')
