"""Cancelling work the moment its client disconnects: the upstream call in flight is
cancelled with it, and the upstream sees its connection close."""

from __future__ import annotations

import asyncio

from switchboard.api.exchange import Exchange


class cancel_on_disconnect:  # lower case, like contextlib.suppress: used as a function is
    """Runs the body of the `async with` under a watch of the client: the connection cancels
    the request's task when its client goes (Exchange.lost). Outside it a disconnect is only
    noted, so that reading the body or settling usage is never cut short."""

    __slots__ = ("_ex",)

    def __init__(self, ex: Exchange) -> None:
        self._ex = ex

    async def __aenter__(self) -> None:
        ex = self._ex
        ex.watched = True
        if ex.client_gone:
            ex.task.cancel()  # gone already: delivered at the body's first await

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        ex = self._ex
        ex.watched = False
        if kind is asyncio.CancelledError and ex.client_gone:
            ex.task.uncancel()
            ex.record.client_disconnected = True
            return True
        return False
