"""`GET /health`: 200 once the gateway can serve."""

from __future__ import annotations

from switchboard.api.exchange import Exchange


async def health(ex: Exchange) -> None:
    await ex.respond(200, b'{"status":"ok"}')
