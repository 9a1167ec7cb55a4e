"""The server side of an HTTP/1.1 connection: httptools parses requests, each becomes an
Exchange served in its own task, and responses go out in as few writes as HTTP allows.

It plugs into uvicorn as its `http` protocol class, so uvicorn still owns the listening socket,
the signals, the lifespan, `--workers` and the graceful shutdown. What it replaces is uvicorn's
per-request ASGI layer: a scope dict and a message dict per send, two regex searches per
response header, a write for the head and another for the body, a keep-alive timer per
request. That layer was a fifth of a small request's CPU (bench/NOTES.md)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote

import httptools

from switchboard.api.exchange import STATUS_LINES, Exchange
from switchboard.dialects.anthropic.errors import error_body
from switchboard.errors import (
    ApiError,
    GatewayError,
    HeadersTooLarge,
    InvalidRequest,
    release,
)
from switchboard.ids import request_id

if TYPE_CHECKING:
    from uvicorn.config import Config
    from uvicorn.server import ServerState


logger = logging.getLogger("switchboard")

# The request line and headers together may not exceed this (an unbounded head is memory any
# client could claim).
MAX_HEAD_BYTES = 64 * 1024
_TOO_LARGE = f"the request line and headers exceed {MAX_HEAD_BYTES} bytes"
# How often the socket of a client that half-closed is looked at for a reset.
PEER_CHECK_SECONDS = 0.05


class Application(Protocol):
    """What a connection needs of the app it serves (app.App is one): a request's exchange
    answered, failures included. The app imports the handlers; this module needs only that."""

    async def serve(self, ex: Exchange) -> None: ...


def _refusal(exc: GatewayError) -> bytes:
    """A response to bytes that are not a request we can serve, in the Anthropic envelope (the
    dialect cannot be told before a request has been parsed), and the connection closes."""
    rid = request_id()
    body = error_body(exc, rid)
    return b"%scontent-type: application/json\r\nrequest-id: %s\r\nx-request-id: %s\r\n" % (
        STATUS_LINES[exc.status],
        rid.encode(),
        rid.encode(),
    ) + b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)


class Connection(asyncio.Protocol):
    """One client connection. Requests pipelined behind a running one wait their turn."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        app = config.loaded_app
        # Not an ASGI callable: uvicorn wraps an app in middleware (proxy headers, trace
        # logging) that the protocol class cannot call through.
        if not callable(getattr(app, "serve", None)):
            raise TypeError(f"the http protocol serves a switchboard App, not {app!r}")
        self.app: Application = app
        self.loop = _loop or asyncio.get_event_loop()
        self.keep_alive_seconds = float(config.timeout_keep_alive)
        # uvicorn's shutdown closes what is in `connections` and waits for `tasks`.
        self.server_state = server_state
        # The parser holds this protocol's methods: a cycle, broken in connection_lost so a
        # closed connection is freed at once rather than by the cyclic collector.
        self.parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.gone = False
        self.read_paused = False
        self.write_paused = False
        self._writable: asyncio.Future[None] | None = None
        # The request the parser is filling in, and its head as it arrives.
        self.url = b""
        self.headers: dict[str, str] = {}
        self.head_bytes = 0
        # Whether a head is arriving (begun, not complete), and the bytes fed to the parser
        # since the read it began in: the parser buffers a header line that never ends, so
        # the head's bound must hold before the line is whole.
        self.in_head = False
        self.head_fed = 0
        self.parsing: Exchange | None = None
        # The request being served, and those pipelined behind it.
        self.running: Exchange | None = None
        self.queue: deque[Exchange] = deque()
        # One idle timer per connection, not one per request: it re-arms for the time left.
        self.idle_since = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self.closing = False  # no more requests after the one running (shutdown)
        self.read_closed = False  # the client half-closed: answer what came, then close
        self._peer_timer: asyncio.TimerHandle | None = None  # is a half-closed client there?

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they are transports.
        self.transport = cast(asyncio.Transport, transport)
        self.server_state.connections.add(self)  # type: ignore[arg-type]
        self._idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.server_state.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._peer_timer is not None:
            self._peer_timer.cancel()
            self._peer_timer = None
        if self.running is not None:
            self.running.lost()
        if self.parsing is not None and self.parsing is not self.running:
            self.parsing.lost()
        self.queue.clear()
        self.resume_writing()
        self.parser = None

    def data_received(self, data: bytes) -> None:
        if self.parser is None:
            return
        arriving = self.in_head  # a head begun in an earlier read
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(InvalidRequest("protocol upgrades are not supported"))
            return
        except httptools.HttpParserError as exc:
            # An error raised in a callback arrives wrapped, as the parser error's context.
            cause = exc.__context__
            exc.__context__ = None
            if isinstance(cause, GatewayError):
                self._refuse(cause)
            else:
                self._refuse(InvalidRequest("malformed HTTP request"))
            return
        if arriving and self.in_head:
            # All of this read is head (it neither began nor ended in it).
            self.head_fed += len(data)
            if self.head_fed > MAX_HEAD_BYTES:
                self._refuse(HeadersTooLarge(_TOO_LARGE))

    def eof_received(self) -> bool | None:
        """The client will send nothing more: a request whose whole body came is still
        answered, and those pipelined behind it; then the connection closes. With nothing to
        answer, it closes now.

        A FIN is a half-close (shutdown(SHUT_WR), the client reads on) or a client that left;
        only a write tells them apart, as a client that left answers it with a reset. So the
        request writes something its client ignores, and the socket's error is looked at
        until the request ends: a client that left still cancels its upstream call."""
        ex = self.running
        if ex is None or (self.parsing is not None and not self.parsing.body_complete):
            return None  # close the transport (a body that can no longer come is a lost client)
        self.read_closed = True
        if ex.probe():
            self._peer_timer = self.loop.call_later(PEER_CHECK_SECONDS, self._check_peer)
        return True

    def _check_peer(self) -> None:
        self._peer_timer = None
        if self.gone or self.transport is None or self.running is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self.transport.abort()  # the client reset the connection: it has gone
            return
        self._peer_timer = self.loop.call_later(PEER_CHECK_SECONDS, self._check_peer)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._writable
        if waiter is not None:
            self._writable = None
            if not waiter.done():
                waiter.set_result(None)

    # -- httptools callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.head_bytes = 0
        self.in_head = True
        self.head_fed = 0

    def _count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEAD_BYTES:
            raise HeadersTooLarge(_TOO_LARGE)

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        # (_count_head inline: this runs for every header of every request)
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEAD_BYTES:
            raise HeadersTooLarge(_TOO_LARGE)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.headers
        if key in headers:
            if key == "host":  # two hosts: which one the request is for is ambiguous
                raise InvalidRequest("the request has more than one Host header")
            # Repeated headers (anthropic-beta may be) are joined as HTTP says.
            headers[key] = f"{headers[key]},{text}"
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        parser = self.parser
        assert parser is not None  # it is calling us
        self.in_head = False
        if parser.should_upgrade():
            return  # feed_data raises HttpParserUpgrade next; refused there
        coding = self.headers.get("transfer-encoding")
        if coding is not None and coding.strip().lower() != "chunked":
            # The parser takes `identity, chunked` as chunked; a proxy in front may not: a
            # body two parties frame differently is how requests are smuggled. (Checked
            # once the head is read: two such headers were joined with a comma above.)
            raise InvalidRequest("transfer-encoding other than a single `chunked` is refused")
        url = httptools.parse_url(self.url)
        path = url.path.decode("latin-1")
        if "%" in path:
            path = unquote(path)
        query = url.query.decode("latin-1") if url.query else ""
        ex = Exchange(
            self,
            parser.get_method().decode("ascii"),
            path,
            query,
            self.headers,
            parser.should_keep_alive() and not self.closing,
            parser.get_http_version() == "1.0",
        )
        self.headers = {}  # the next request's; this one's are the exchange's now
        self.parsing = ex
        if self.running is None:
            self._start(ex)
        else:
            # Pipelined behind the request being served: wait, and read no further meanwhile.
            self.queue.append(ex)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        ex = self.parsing
        if ex is not None and not ex.finished:
            ex.feed(body)

    def on_message_complete(self) -> None:
        ex = self.parsing
        if ex is not None:
            ex.end_body()
            self.parsing = None  # an idle connection holds no finished request

    # -- serving --------------------------------------------------------------------------

    def _start(self, ex: Exchange) -> None:
        self.running = ex
        task = self.loop.create_task(self._serve(ex))
        ex.task = task
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _serve(self, ex: Exchange) -> None:
        try:
            await self.app.serve(ex)
        except asyncio.CancelledError:
            self._abort(ex)
            raise
        except Exception as exc:
            logger.exception("request %s failed past the app's error boundary", ex.request_id)
            release(exc)
            self._abort(ex)
        else:
            if not ex.finished and not ex.client_gone:
                logger.error("request %s ended without a whole response", ex.request_id)
                self._abort(ex)

    def _abort(self, ex: Exchange) -> None:
        """End a request the app did not answer in full: a 500 if nothing was sent, and the
        connection closes (a half-sent response cannot be framed any more)."""
        if ex.finished or self.transport is None:
            return
        if ex.status == 0:
            self.write(_refusal(ApiError("internal error in the gateway")))
        self.transport.close()

    def done(self, ex: Exchange) -> None:
        """The response to `ex` has been written in full."""
        if ex is not self.running:
            return
        self.running = None
        self.server_state.total_requests += 1
        if self.gone or self.transport is None:
            return
        if not ex.keep_alive or self.closing:
            self.transport.close()
            return
        if self.queue:
            self._start(self.queue.popleft())
        elif self.read_closed:
            self.transport.close()
        else:
            self.resume_reading()
            self._idle()

    def write(self, data: bytes) -> None:
        if not self.gone and self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        if self.write_paused and not self.gone:
            if self._writable is None:
                self._writable = self.loop.create_future()
            await asyncio.shield(self._writable)

    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.gone:
            self.read_paused = False
            self.transport.resume_reading()

    def _refuse(self, exc: GatewayError) -> None:
        self.parser = None  # nothing after bytes that are not HTTP can be framed
        if self.transport is None:
            return
        parsing = self.parsing
        if parsing is not None and not parsing.body_complete:
            # The body of a request being read is malformed (a bad chunk, say): its handler
            # answers 400 at once rather than wait out the body's deadline.
            parsing.malformed(exc.message)
        if self.running is None:
            self.write(_refusal(exc))
            self.transport.close()
        else:
            # Garbage after a request still being served: answer that one, then close.
            self.running.keep_alive = False
            self.closing = True
            self.pause_reading()

    # -- idle connections -----------------------------------------------------------------

    def _idle(self) -> None:
        self.idle_since = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_later(self.keep_alive_seconds, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self.gone or self.running is not None or self.transport is None:
            return  # done() re-arms when the request ends
        left = self.idle_since + self.keep_alive_seconds - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self._idle_timer = self.loop.call_later(left, self._idle_check)

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close if idle, else after the response being sent."""
        self.closing = True
        if self.running is None and self.transport is not None:
            self.transport.close()
        elif self.running is not None:
            self.running.keep_alive = False
