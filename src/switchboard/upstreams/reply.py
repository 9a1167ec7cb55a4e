"""One connection of the upstream HTTP/1.1 client and the reply being read on it: an asyncio
protocol fed by the event loop, httptools parsing the reply, the body handed to its reader as it
arrives. A reply is read no further ahead of its reader than `_HIGH_WATER`, compressed or not (a
compressed one is inflated as it is read, a step at a time, so a gzip bomb costs what its reader
takes of it). The pool (pool.py) opens, lends and times these."""

from __future__ import annotations

import asyncio
import select
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import httptools

from switchboard.upstreams.connection import ConnectionFailed, Deadlines, Origin, ReplyTimeout

if TYPE_CHECKING:
    from switchboard.upstreams.pool import Pool

# Read no further ahead of the reader than this; the upstream waits (TCP back-pressure).
_HIGH_WATER = 1 << 20


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
