"""The upstream HTTP/1.1 client: kept-alive connections per origin, an asyncio protocol per
connection, httptools parsing the replies.

Why not aiohttp here (it is still the document fetcher): a gateway's upstream calls are one
shape only (a POST with a body we built, a reply read to the end or streamed), and aiohttp's
general machinery (URL objects, multidict headers, payload registry, tracing, a timer per read)
was a quarter of the CPU of a 1 KB request and a fifth of every relayed stream event. This client
does that one shape: one write per request, the body chunks handed to the reader as they arrive,
and one timer for all requests that enforces every deadline (`Deadlines`)."""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

# Read no further ahead of the reader than this; the upstream waits (TCP back-pressure).
_HIGH_WATER = 1 << 20
_IDLE_KEEP = 30.0  # seconds an idle connection stays in the pool
_MAX_IDLE_PER_ORIGIN = 512
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
    """Where a URL's requests go: the pool key, and the request line's path."""

    scheme: str
    host: str
    port: int
    path: bytes
    host_header: bytes

    @classmethod
    def parse(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionFailed(f"not an http(s) URL: {url[:200]}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = port == (443 if parts.scheme == "https" else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        return cls(
            parts.scheme,
            parts.hostname,
            port,
            path.encode(),
            (host if default else f"{host}:{port}").encode("idna"),
        )


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
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._received = False  # any byte of this reply
        self._deadlines: Deadlines | None = None
        self._sent_at = 0.0
        self._last_data = 0.0
        self._ends_at: float | None = None
        self._inflate: zlib._Decompress | None = None
        self.idle_since = 0.0
        self.pooled = False

    # --- the protocol side: called by the event loop -----------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are transports.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.pooled:  # nothing is asked on an idle connection: it is not ours to trust
            self.close()
            return
        self._received = True
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
        if self._inflate is not None:
            try:
                body = self._inflate.decompress(body)
            except zlib.error:
                self._fail(ConnectionFailed("the reply's compressed body is corrupt"))
                return
            if not body:  # b"" is how chunk() says the reply ended
                return
        self._chunks.append(body)
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
        """The body received since the last call; b"" once the reply is complete."""
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
        return data

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

    @property
    def received(self) -> bool:
        return self._received

    def reset(self) -> None:
        """Ready for the next request on the same connection."""
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers = {}
        self._chunks = []
        self._buffered = 0
        self._headers_done = self._complete = self._keep_alive = False
        self._received = self.pooled = False
        self._inflate = None
        self._deadlines = None

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
    """Idle kept-alive connections per origin (most recently used first); a connection is
    opened when none is idle, with no cap (the upstream's own limits apply).

    One timer serves every reply being waited for: each tick it fails those past a deadline
    (first byte, idle gap, total). A timer per request, re-armed as data arrives, cost more
    than anything else the client does for a small request; deadlines hold to within a tick."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[Reply]] = {}
        self._open: set[Reply] = set()
        self._waiting: set[Reply] = set()
        self._timer: asyncio.TimerHandle | None = None
        # URLs come from the config, so this stays as small as the provider list.
        self._origins: dict[str, Origin] = {}
        self._tls: ssl.SSLContext | None = None

    def _ssl(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def request(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        deadlines: Deadlines,
    ) -> Reply:
        """POST and wait for the reply's head. A request that found a kept-alive connection
        closed under it (before any byte of a reply) is sent once more on a new one: the
        upstream never saw it."""
        origin = self._origins.get(url)
        if origin is None:
            origin = self._origins[url] = Origin.parse(url)
        head = _head(origin, headers, len(body))
        reply = self._take(origin)
        if reply is not None:
            try:
                return await self._exchange(reply, head, body, deadlines)
            except ConnectionFailed:
                if reply.received:
                    raise
        reply = await self._connect(origin, deadlines.connect)
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
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        cutoff = time.monotonic() - _IDLE_KEEP
        while idle:
            reply = idle.pop()
            if reply.usable and reply.idle_since > cutoff:
                reply.reset()
                return reply
            reply.close()
        return None

    async def _connect(self, origin: Origin, seconds: float) -> Reply:
        loop = asyncio.get_running_loop()
        tls = origin.scheme == "https"
        try:
            async with asyncio.timeout(seconds):
                _, reply = await loop.create_connection(
                    lambda: Reply(self, origin),
                    origin.host,
                    origin.port,
                    ssl=self._ssl() if tls else None,
                    server_hostname=origin.host if tls else None,
                )
        except TimeoutError:
            raise ReplyTimeout("connecting") from None
        except (OSError, ssl.SSLError) as exc:
            where = f"{origin.host}:{origin.port}"
            raise ConnectionFailed(f"cannot connect to {where}: {exc}") from None
        self._open.add(reply)
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
        o = reply.origin
        idle = self._idle.setdefault((o.scheme, o.host, o.port), [])
        if len(idle) >= _MAX_IDLE_PER_ORIGIN or not reply.usable:
            reply.close()
            return
        reply.idle_since = time.monotonic()
        reply.pooled = True
        idle.append(reply)

    def forget(self, reply: Reply) -> None:
        self._open.discard(reply)
        o = reply.origin
        idle = self._idle.get((o.scheme, o.host, o.port))
        if idle and reply in idle:
            idle.remove(reply)

    def close(self) -> None:
        for reply in list(self._open):
            reply.close()
        self._idle.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _head(origin: Origin, headers: Mapping[str, str], length: int) -> bytes:
    lines = [b"POST ", origin.path, b" HTTP/1.1\r\nhost: ", origin.host_header]
    lines.append(b"\r\ncontent-length: %d\r\naccept-encoding: gzip, deflate" % length)
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} has a line break in it")
        lines.append(f"\r\n{name}: {value}".encode("latin-1", "replace"))
    lines.append(b"\r\n\r\n")
    return b"".join(lines)
