"""The upstream HTTP/1.1 client: kept-alive connections per origin (`Pool`, here), an asyncio
protocol per connection with httptools parsing the replies (`Reply`, reply.py), and what both
share (connection.py: `Origin`, `Deadlines`, the errors, the request head).

Why not aiohttp here (it is still the document fetcher): a gateway's upstream calls are one
shape only (a POST with a body we built, a reply read to the end or streamed), and aiohttp's
general machinery (URL objects, multidict headers, payload registry, tracing, a timer per read)
was a quarter of the CPU of a 1 KB request and a fifth of every relayed stream event. This client
does that one shape: one write per request, the body chunks handed to the reader as they arrive,
and one timer for all requests that enforces every deadline (`Deadlines`).

What it owes the upstreams and the gateway's memory: a request is never sent twice (a kept-alive
connection the upstream closed is noticed before it is written to, and nothing is retried after
that); at most `max_per_origin` connections per origin, more requests wait their turn; a reply is
read no further ahead of its reader than a mebibyte (reply.py), compressed or not (a compressed
one is inflated as it is read, a step at a time, so a gzip bomb costs what its reader takes of it).
Proxies (proxy.py) and the CA bundle are decided once per origin, not per request."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Mapping

from switchboard.upstreams.connection import (
    ConnectionFailed,
    Deadlines,
    Origin,
    ReplyTimeout,
    request_head,
)
from switchboard.upstreams.proxy import Proxies
from switchboard.upstreams.reply import Reply

_IDLE_KEEP = 30.0  # seconds an idle connection stays in the pool
TICK = 0.05  # seconds between deadline checks


class Pool:
    """Kept-alive connections per origin (the most recently used idle one first), at most
    `max_per_origin` of them open or opening: a request beyond that waits for one to be
    released (it is handed over) or closed, within its first-byte deadline.

    One timer serves every reply being waited for: each tick it fails those past a deadline
    (first byte, idle gap, total). A timer per request, re-armed as data arrives, cost more
    than anything else the client does for a small request; deadlines hold to within a tick."""

    def __init__(
        self,
        max_per_origin: int = 512,
        *,
        ca_bundle: str | None = None,
        proxies: Proxies | None = None,
    ) -> None:
        self._max = max_per_origin
        self._idle: dict[str, list[Reply]] = {}
        self._open: set[Reply] = set()
        self._slots: dict[str, int] = {}  # connections open or opening, per origin
        self._turns: dict[str, deque[asyncio.Future[Reply | None]]] = {}
        self._waiting: set[Reply] = set()
        self._timer: asyncio.TimerHandle | None = None
        # URLs come from the config, so this stays as small as the provider list.
        self._origins: dict[str, Origin] = {}
        self._proxies = proxies
        self._ca_bundle = ca_bundle
        self._tls: ssl.SSLContext | None = None

    def _ssl(self) -> ssl.SSLContext:
        if self._tls is None:  # on first use: loading the CAs takes time and memory
            self._tls = ssl.create_default_context(cafile=self._ca_bundle)
        return self._tls

    async def request(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        deadlines: Deadlines,
    ) -> Reply:
        """POST and wait for the reply's head. Sent once: a connection that fails after the
        request was written raises, even with no byte of reply, since the upstream may have
        received it (the caller decides whether to try again, elsewhere or later)."""
        origin = self._origins.get(url)
        if origin is None:
            origin = self._origins[url] = Origin.parse(url, self._proxies)
        head = request_head(origin, headers, len(body))
        reply = self._take(origin)
        if reply is None:
            reply = await self._open_new(origin, deadlines)
        return await self._exchange(reply, head, body, deadlines)

    @staticmethod
    async def _exchange(reply: Reply, head: bytes, body: bytes, deadlines: Deadlines) -> Reply:
        reply.send(head, body, deadlines)
        try:
            await reply.head()
        except BaseException:
            reply.close()
            raise
        return reply

    def _take(self, origin: Origin) -> Reply | None:
        idle = self._idle.get(origin.key)
        if not idle:
            return None
        cutoff = time.monotonic() - _IDLE_KEEP
        while idle:
            reply = idle.pop()
            if reply.idle_since > cutoff and reply.reusable():
                reply.reset()
                return reply
            reply.close()
        return None

    async def _open_new(self, origin: Origin, deadlines: Deadlines) -> Reply:
        """A new connection, or at the cap, the first one released or whose slot frees."""
        key = origin.key
        while self._slots.get(key, 0) >= self._max:
            handed = await self._wait_turn(origin, deadlines)
            if handed is None:
                break  # a closed connection's slot, passed on
            if handed.reusable():
                handed.reset()
                return handed
            handed.close()  # it broke on the way: its slot goes on, and the wait too
        else:
            self._slots[key] = self._slots.get(key, 0) + 1
        try:  # the slot is ours (reserved above, or passed on by a closed connection)
            reply = await self._connect(origin, deadlines.connect)
        except BaseException:
            self._free_slot(key)
            raise
        self._open.add(reply)
        return reply

    async def _wait_turn(self, origin: Origin, deadlines: Deadlines) -> Reply | None:
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[Reply | None] = loop.create_future()
        self._turns.setdefault(origin.key, deque()).append(turn)
        wait = deadlines.first_byte
        if deadlines.total is not None:
            wait = min(wait, deadlines.total)
        why = f"waiting for a free connection ({self._max} open to {origin.host}:{origin.port})"
        timer = loop.call_later(wait, _expire, turn, why)
        try:
            return await turn
        except BaseException:
            # Cancelled (or timed out) just as a turn came: pass it on, not lose it.
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                handed = turn.result()
                if handed is None:
                    self._free_slot(origin.key)
                else:
                    self.put(handed)
            turn.cancel()
            raise
        finally:
            timer.cancel()

    async def _connect(self, origin: Origin, seconds: float) -> Reply:
        loop = asyncio.get_running_loop()
        tls = origin.scheme == "https"
        proxy = origin.proxy
        try:
            async with asyncio.timeout(seconds):
                if proxy is None or not tls:
                    _, reply = await loop.create_connection(
                        lambda: Reply(self, origin),
                        origin.host if proxy is None else proxy.host,
                        origin.port if proxy is None else proxy.port,
                        ssl=self._ssl() if tls else None,
                        server_hostname=origin.host if tls else None,
                    )
                else:  # TLS to the upstream, inside a tunnel through the proxy
                    raw = await proxy.tunnel(origin.authority)
                    reply = Reply(self, origin)
                    try:
                        secured = await loop.start_tls(
                            raw, reply, self._ssl(), server_hostname=origin.host
                        )
                    except BaseException:
                        raw.close()
                        raise
                    assert secured is not None
                    reply.connection_made(secured)
        except TimeoutError:
            raise ReplyTimeout("connecting") from None
        except (OSError, ssl.SSLError) as exc:
            where = f"{origin.host}:{origin.port}"
            if proxy is not None:
                where += f" through the proxy {proxy.host}:{proxy.port}"
            raise ConnectionFailed(f"cannot connect to {where}: {exc}") from None
        return reply

    def watch(self, reply: Reply) -> None:
        self._waiting.add(reply)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(TICK, self._sweep)

    def unwatch(self, reply: Reply) -> None:
        self._waiting.discard(reply)

    def _sweep(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        for reply in list(self._waiting):  # a failed reply leaves the set
            reply.check(now)
        if self._waiting:
            self._timer = asyncio.get_running_loop().call_later(TICK, self._sweep)

    def put(self, reply: Reply) -> None:
        """A connection free for the next request: the first one waiting for a turn, else
        the idle list."""
        if not reply.usable:
            reply.close()
            return
        key = reply.origin.key
        turns = self._turns.get(key)
        while turns:
            turn = turns.popleft()
            if not turn.done():
                reply.pooled = True  # until its new owner resets it
                turn.set_result(reply)
                return
        reply.idle_since = time.monotonic()
        reply.pooled = True
        self._idle.setdefault(key, []).append(reply)

    def forget(self, reply: Reply) -> None:
        """A connection closed: its slot goes to the next request waiting for one."""
        key = reply.origin.key
        if reply in self._open:
            self._open.discard(reply)
            self._free_slot(key)
        idle = self._idle.get(key)
        if idle and reply in idle:
            idle.remove(reply)

    def _free_slot(self, key: str) -> None:
        turns = self._turns.get(key)
        while turns:
            turn = turns.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes on: the count stays
                return
        self._slots[key] -= 1

    def close(self) -> None:
        for turns in self._turns.values():  # first: closed connections pass on no places
            for turn in turns:
                if not turn.done():
                    turn.set_exception(ConnectionFailed("the client is closing"))
        self._turns.clear()
        for reply in list(self._open):
            reply.close()
        self._idle.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _expire(turn: asyncio.Future[Reply | None], why: str) -> None:
    if not turn.done():
        turn.set_exception(ReplyTimeout(why))
