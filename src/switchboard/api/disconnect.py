"""Cancelling work the moment its client disconnects: the upstream call in flight is
cancelled with it, and the upstream sees its connection close."""

from __future__ import annotations

import asyncio

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


class cancel_on_disconnect:  # lower case, like contextlib.suppress: used as a function is
    """Runs the body of the `async with` under a watch of the client (one task per request,
    none per chunk). Enter it after the request body is read: the watch takes over `receive`.
    A class rather than a generator context manager: it is on every request's path."""

    __slots__ = ("_ex", "_watcher")

    def __init__(self, ex: Exchange) -> None:
        self._ex = ex

    async def __aenter__(self) -> None:
        self._watcher = asyncio.create_task(_watch(self._ex, self._ex.task))

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        self._watcher.cancel()
        ex = self._ex
        if kind is asyncio.CancelledError and ex.client_gone:
            ex.task.uncancel()
            ex.log["client_disconnected"] = True
            return True
        return False
