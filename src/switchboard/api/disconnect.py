"""Cancelling work the moment its client disconnects: the upstream call in flight is
cancelled with it, and the upstream sees its connection close."""

from __future__ import annotations

import asyncio

from switchboard.api.asgi import Exchange


class cancel_on_disconnect:  # lower case, like contextlib.suppress: used as a function is
    """Runs the body of the `async with` under a watch of the client. Enter it after the
    request body is read: the watch takes over `receive`. The watch itself (a task waiting on
    `receive`) is started by InFlight once the request has lasted a tick, so the many requests
    that end sooner never pay for one."""

    __slots__ = ("_ex",)

    def __init__(self, ex: Exchange) -> None:
        self._ex = ex

    async def __aenter__(self) -> None:
        self._ex.watched = True

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        ex = self._ex
        ex.watched = False
        if ex.watcher is not None:
            ex.watcher.cancel()
            ex.watcher = None
        if kind is asyncio.CancelledError and ex.client_gone:
            ex.task.uncancel()
            ex.log["client_disconnected"] = True
            return True
        return False
