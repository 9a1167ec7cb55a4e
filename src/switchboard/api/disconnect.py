"""Cancelling work the moment its client disconnects: the upstream call in flight is
cancelled with it, and the upstream sees its connection close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from switchboard.api.asgi import Exchange


async def _watch(ex: Exchange, task: asyncio.Task[None]) -> None:
    while True:
        message = await ex.receive()
        if message["type"] == "http.disconnect":
            # After the response has ended a disconnect is just the connection closing.
            if not ex.finished:
                ex.client_gone = True
                task.cancel()
            return


@asynccontextmanager
async def cancel_on_disconnect(ex: Exchange) -> AsyncIterator[None]:
    """Runs the body of the `async with` under a watch of the client (one task per request,
    none per chunk). Enter it after the request body is read: the watch takes over `receive`."""
    task = asyncio.current_task()
    assert task is not None
    watcher = asyncio.create_task(_watch(ex, task))
    try:
        yield
    except asyncio.CancelledError:
        if not ex.client_gone:
            raise
        task.uncancel()
        ex.log["client_disconnected"] = True
    finally:
        watcher.cancel()
