"""The upstream HTTP/1.1 client: kept-alive connections per origin, an asyncio protocol per
connection, httptools parsing the replies.

Why not aiohttp here (it is still the document fetcher): a gateway's upstream calls are one
shape only (a POST with a body we built, a reply read to the end or streamed), and aiohttp's
general machinery (URL objects, multidict headers, payload registry, tracing, a timer per read)
was a quarter of the CPU of a 1 KB request and a fifth of every relayed stream event. This client
does that one shape: one write per request, the body chunks handed to the reader as they arrive,
and one timer for all requests that enforces every deadline (`Deadlines`).

What it owes the upstreams and the gateway's memory: a request is never sent twice (a kept-alive
connection the upstream closed is noticed before it is written to, and nothing is retried after
that); at most `max_per_origin` connections per origin, more requests wait their turn; a reply is
read no further ahead of its reader than `_HIGH_WATER`, compressed or not (a compressed one is
inflated as it is read, a step at a time, so a gzip bomb costs what its reader takes of it).
Proxies (proxy.py) and the CA bundle are decided once per origin, not per request."""

from __future__ import annotations

import asyncio
import select
import ssl
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

from switchboard.upstreams.proxy import Proxies, Proxy

# Read no further ahead of the reader than this; the upstream waits (TCP back-pressure).
_HIGH_WATER = 1 << 20
_IDLE_KEEP = 30.0  # seconds an idle connection stays in the pool
TICK = 0.05  # seconds between deadline checks


class ConnectionFailed(Exception):
    """The connection could not be opened or broke; the message says how."""


class ReplyTimeout(Exception):
    """A deadline passed; the message names the phase: connecting, waiting for the first
    byte, idle between chunks, reading the reply."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    connect: float
    first_byte: float
    idle: float
    total: float | None  # a whole call; None for streams


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL's requests go: the pool key, the request line's target, and the proxy (if
    any) on the way. Through an http proxy the target is the absolute URL."""

    scheme: str
    host: str
    port: int
    path: bytes
    host_header: bytes
    key: str  # scheme://host:port
    proxy: Proxy | None = None
    extra: bytes = b""  # header lines every request carries: the http proxy's credentials

    @classmethod
    def parse(cls, url: str, proxies: Proxies | None = None) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionFailed(f"not an http(s) URL: {url[:200]}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ConnectionFailed(f"the URL's port is not a number: {url[:200]}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = port == (443 if parts.scheme == "https" else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        host_header = (host if default else f"{host}:{port}").encode("idna")
        key = f"{parts.scheme}://{host}:{port}"
        proxy = proxies.for_origin(parts.scheme, parts.hostname, port) if proxies else None
        target, extra = path.encode(), b""
        if proxy is not None and parts.scheme == "http":
            target = b"http://" + host_header + target  # absolute form, for the proxy
            if proxy.authorization:
                extra = b"\r\nproxy-authorization: " + proxy.authorization.encode()
        return cls(parts.scheme, parts.hostname, port, target, host_header, key, proxy, extra)

    @property
    def authority(self) -> bytes:
        """host:port, as CONNECT names it."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return host.encode("idna") + b":%d" % self.port


def _decoder(encoding: str) -> zlib._Decompress | None:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    if encoding in ("", "identity"):
        return None
    raise ConnectionFailed(f"the reply has an unsupported content-encoding: {encoding[:40]}")


class Reply(asyncio.Protocol):
    """One connection, and the reply being read on it. `status` and `headers` (lower-case
    names) are set once `head()` returns; `chunk()` gives the body as it arrives."""

    def __init__(self, pool: Pool, origin: Origin) -> None:
        self._pool = pool
        self.origin = origin
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._headers_done = False
        self._complete = False
        self._keep_alive = False
        # Told each piece of the body chunk() gives, when the request is captured (capture/).
        self.tap: Callable[[bytes], None] | None = None
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._deadlines: Deadlines | None = None
        self._sent_at = 0.0
        self._last_data = 0.0
        self._ends_at: float | None = None
        self._inflate: zlib._Decompress | None = None
        self._readable: select.poll | None = None
        self.idle_since = 0.0
        self.pooled = False

    # --- the protocol side: called by the event loop -----------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are transports.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(select, "poll"):
            self._readable = select.poll()
            self._readable.register(sock.fileno(), select.POLLIN)

    def data_received(self, data: bytes) -> None:
        if self.pooled:  # nothing is asked on an idle connection: it is not ours to trust
            self.close()
            return
        self._last_data = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionFailed(f"the reply is not valid HTTP/1.1 ({exc})"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost finishes the reply

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self._complete and self._error is None:
            if self._headers_done and self._delimited_by_close():
                self._complete = True
                self._wake()
            if not self._complete:
                why = f": {exc}" if exc else ""
                self._fail(ConnectionFailed(f"the upstream closed the connection{why}"))
        self._pool.forget(self)

    def _delimited_by_close(self) -> bool:
        """A body with neither a length nor chunks ends where the connection does (httptools
        has no way to be told the end of input)."""
        h = self.headers
        return "content-length" not in h and "chunked" not in h.get("transfer-encoding", "")

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status < 200:  # 100 Continue and friends: the real head follows
            self.headers = {}
            return
        self._headers_done = True
        try:
            self._inflate = _decoder(self.headers.get("content-encoding", "").lower())
        except ConnectionFailed as exc:
            self._fail(exc)
            return
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)  # compressed or not: chunk() inflates
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            return
        self._complete = True
        # Asked now: once the callback returns, the parser has moved on to the next message.
        self._keep_alive = self._parser.should_keep_alive()
        self._pool.unwatch(self)
        self._wake()

    # --- the caller's side --------------------------------------------------------------------

    def send(self, head: bytes, body: bytes, deadlines: Deadlines) -> None:
        assert self._transport is not None
        self._deadlines = deadlines
        now = self._sent_at = self._loop.time()
        self._ends_at = now + deadlines.total if deadlines.total is not None else None
        self._pool.watch(self)
        self._transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self._transport.write(body)

    async def head(self) -> None:
        while not self._headers_done:
            await self._wait()

    async def chunk(self) -> bytes:
        """The body received since the last call, inflated at most `_HIGH_WATER` bytes at a time;
        b"" once the reply is complete."""
        inflate = self._inflate
        while True:
            if inflate is not None and inflate.unconsumed_tail:
                data = self._inflated(inflate.unconsumed_tail)
                return data if self.tap is None else self._tapped(data)
            while not self._chunks:
                if self._complete:
                    return b""
                await self._wait()
            data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            self._chunks.clear()
            self._buffered = 0
            if self._paused and self._transport is not None:
                self._paused = False
                self._transport.resume_reading()
            if inflate is None:
                return data if self.tap is None else self._tapped(data)
            if data := self._inflated(data):
                return data if self.tap is None else self._tapped(data)
            # Not a whole compressed block yet (or only the gzip header): read on.

    def _tapped(self, data: bytes) -> bytes:
        assert self.tap is not None
        self.tap(data)
        return data

    def _inflated(self, data: bytes) -> bytes:
        assert self._inflate is not None
        try:
            return self._inflate.decompress(data, _HIGH_WATER)
        except zlib.error:
            exc = ConnectionFailed("the reply's compressed body is corrupt")
            self._fail(exc)
            raise exc from None

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value and value.isdigit() else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def release(self) -> None:
        """Done with the reply: a complete one leaves its connection to the next request."""
        self._pool.unwatch(self)
        if self._complete and self._error is None and self._keep_alive:
            self._pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        """Abandon the reply: the connection closes, so the upstream sees the request end."""
        self._pool.unwatch(self)
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._pool.forget(self)

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def reusable(self) -> bool:
        """Usable, and nothing to read: an idle connection with bytes or an end of stream
        waiting (that the event loop has not handled yet) was closed by the upstream, or is
        out of step with it. Checked just before the request is written, so a request is only
        ever written to a connection the upstream had not closed by then."""
        if not self.usable:
            return False
        return self._readable is None or not self._readable.poll(0)

    def reset(self) -> None:
        """Ready for the next request on the same connection."""
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers = {}
        self._chunks = []
        self._buffered = 0
        self._headers_done = self._complete = self._keep_alive = False
        self.pooled = False
        self._inflate = None
        self._deadlines = None
        self.tap = None

    # --- internals ------------------------------------------------------------------------------

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
        self._pool.unwatch(self)
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        self._wake()

    def check(self, now: float) -> None:
        """Called by the pool's timer: fail the reply if a deadline has passed."""
        d = self._deadlines
        if d is None or self._complete or self._error is not None:
            return
        overdue = self._ends_at is not None and now >= self._ends_at
        if not self._headers_done:
            if overdue or now - self._sent_at >= d.first_byte:
                self._fail(ReplyTimeout("waiting for the first byte"))
        elif overdue:
            self._fail(ReplyTimeout("reading the reply"))
        elif now - self._last_data >= d.idle and not self._paused:  # paused: we are slow
            self._fail(ReplyTimeout("idle between chunks"))


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
        head = _head(origin, headers, len(body))
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


def _head(origin: Origin, headers: Mapping[str, str], length: int) -> bytes:
    lines = [b"POST ", origin.path, b" HTTP/1.1\r\nhost: ", origin.host_header]
    lines.append(b"\r\ncontent-length: %d\r\naccept-encoding: gzip, deflate" % length)
    lines.append(origin.extra)
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} has a line break in it")
        lines.append(f"\r\n{name}: {value}".encode("latin-1", "replace"))
    lines.append(b"\r\n\r\n")
    return b"".join(lines)
