"""One request and its response, as the handlers see it: the request's headers and body, and
the ways to answer (a whole response in one write, or a stream of chunks).

The connection (api/http11.py) makes an Exchange when a request's head has arrived, feeds it
the body as it comes, and tells it when the client has gone. No framework sits in between
(docs/architecture.md: one BaseHTTPMiddleware alone costs 4x), and no ASGI message dicts either."""

from __future__ import annotations

import asyncio
import http
import logging
import re
import time
from typing import TYPE_CHECKING

from switchboard.errors import InvalidRequest, RequestTimeout, RequestTooLarge
from switchboard.ids import request_id
from switchboard.kinds import Dialect
from switchboard.record import RequestRecord

if TYPE_CHECKING:
    from switchboard.api.http11 import Connection
    from switchboard.capture import Capture

logger = logging.getLogger("switchboard")

JSON = b"application/json"
SSE = b"text/event-stream; charset=utf-8"
# Until the app has matched the path to a surface (and for what it cannot match).
DEFAULT_DIALECT = Dialect("anthropic")
# A request body buffered beyond this, while no handler reads it, pauses reading the socket.
HIGH_WATER = 65536


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}

# What RFC 9110 lets a header hold: a name is a token; a value is visible ASCII, spaces, tabs
# and obs-text, never CR, LF, NUL or another control byte (with those, a value could end the
# head and forge the rest of the response, or the next one on the connection).
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+.^_`|~0-9A-Za-z-]").search
_NOT_VALUE = re.compile(rb"[^\t\x20-\x7e\x80-\xff]")
_CONTROL = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])


def safe_header(name: bytes, value: bytes) -> tuple[bytes, bytes] | None:
    """The header as it may be written: None for a name that is not a token, and a value's
    control bytes percent-encoded. Callers escape what they put in a header; this is the
    defence that holds whatever a caller forgot."""
    if not name or _NOT_TOKEN(name) is not None:
        logger.error("response header %r is not a token: not sent", name[:64])
        return None
    if _NOT_VALUE.search(value) is not None:
        logger.error("response header %s held control bytes: percent-encoded", name.decode())
        value = _NOT_VALUE.sub(lambda m: b"%%%02X" % m[0][0], value)
    return name, value


class Exchange:
    """One request and its response: headers read once, a request id, what was sent."""

    __slots__ = (
        "_body",
        "_size",
        "_waiter",
        "body_complete",
        "body_deadline",
        "body_expired",
        "body_malformed",
        "capture",
        "chunked",
        "client_gone",
        "conn",
        "dialect",
        "expect_continue",
        "finished",
        "head_only",
        "headers",
        "keep_alive",
        "method",
        "path",
        "pending_head",
        "query",
        "record",
        "request_id",
        "started",
        "status",
        "streaming",
        "task",
        "watched",
    )

    def __init__(
        self,
        conn: Connection,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        keep_alive: bool,
        http10: bool = False,
    ) -> None:
        self.conn = conn
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.keep_alive = keep_alive  # cleared when the connection must close after this
        self.head_only = method == "HEAD"
        self.expect_continue = headers.get("expect", "").lower() == "100-continue"
        self.request_id = request_id()
        self.started = time.perf_counter()
        self.status = 0  # 0 until the response has started
        self.streaming = False
        # How a stream's body is framed: chunked, or (an HTTP/1.0 client knows no chunks) by
        # closing the connection at its end.
        self.chunked = not http10
        self.pending_head = b""  # a stream's head, sent with its first chunk
        self.finished = False  # the last byte of the response was sent
        self.client_gone = False  # the client disconnected before that
        self.record = RequestRecord()  # what the request was, did and cost
        # Which client dialect's error envelope this exchange answers failures in.
        self.dialect = DEFAULT_DIALECT
        # The body as it arrives, fed by the connection.
        self._body: list[bytes] = []
        self._size = 0
        self.body_complete = False
        self.body_malformed = ""  # why the body cannot be read (the connection's parser said)
        self._waiter: asyncio.Future[None] | None = None
        # Set by the connection when it starts the task that serves this request: the body
        # deadline and a disconnect both cancel it.
        self.task: asyncio.Task[None]
        # Looked after by InFlight's timer: the loop time the body must have arrived by (0:
        # none), and whether it did not.
        self.body_deadline = 0.0
        self.body_expired = False
        # Inside cancel_on_disconnect: a disconnect cancels the task.
        self.watched = False
        # What the client sent and received, when this request is being captured (capture/).
        self.capture: Capture | None = None

    # -- the connection's side ------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._body.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and self._waiter is None:
            self.conn.pause_reading()
        self._wake()

    def end_body(self) -> None:
        self.body_complete = True
        self._wake()

    def malformed(self, why: str) -> None:
        """The body's framing is broken (a bad chunk): reading it fails at once."""
        self.body_malformed = why
        self._wake()

    def probe(self) -> bool:
        """Write something the client ignores (an interim 102 before the response, an SSE
        comment in a stream): a client that has closed its socket answers it with a reset,
        one that only half-closed reads on. False when nothing can be written."""
        if self.finished:
            return False
        if self.status == 0:
            if not self.chunked:
                return False  # HTTP/1.0 knows no interim responses
            self.conn.write(b"HTTP/1.1 102 Processing\r\n\r\n")
            return True
        if not self.streaming:
            return False
        comment = b": \n\n"
        frame = b"%x\r\n%b\r\n" % (len(comment), comment) if self.chunked else comment
        self.conn.write(self.pending_head + frame)
        self.pending_head = b""
        return True

    def lost(self) -> None:
        """The client disconnected."""
        if self.finished:
            return
        self.client_gone = True
        self._wake()
        if self.watched:
            self.task.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the handlers' side ---------------------------------------------------------------

    async def body(self, limit: int, seconds: float | None = None) -> bytes:
        """The whole body, at most `limit` bytes, within `seconds` (against slow clients)."""
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"request body is larger than the {limit}-byte limit")
        if self.body_complete or seconds is None:
            return await self._read_body(limit)
        # No timer of its own: InFlight's sweep cancels the task once the deadline has passed.
        self.body_deadline = asyncio.get_running_loop().time() + seconds
        try:
            return await self._read_body(limit)
        except asyncio.CancelledError:
            if not self.body_expired:
                raise
            self.task.uncancel()
            raise RequestTimeout(
                f"the request body did not arrive within {seconds:g} seconds"
            ) from None
        finally:
            self.body_deadline = 0.0

    async def _read_body(self, limit: int) -> bytes:
        if self.expect_continue:
            self.expect_continue = False
            self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self.body_complete and not self.client_gone:
            if self._size > limit or self.body_malformed:
                break
            self.conn.resume_reading()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self._size > limit:
            raise RequestTooLarge(f"request body is larger than the {limit}-byte limit")
        if self.body_malformed:
            self._body = []
            raise InvalidRequest(f"{self.body_malformed} (in the body)")
        body = self._body
        self._body = []
        whole = body[0] if len(body) == 1 else b"".join(body)
        if self.capture is not None:
            self.capture.client_request.add(whole)
        return whole

    def _head(
        self, status: int, content_type: bytes, extra: list[tuple[bytes, bytes]]
    ) -> list[bytes]:
        rid = self.request_id.encode()
        head = [
            STATUS_LINES[status],
            b"content-type: ",
            content_type,
            b"\r\nrequest-id: ",
            rid,
            b"\r\nx-request-id: ",
            rid,
            b"\r\n",
        ]
        if extra:
            # The one place response headers are written, so the one place they are checked:
            # the lines hold no control byte but the CRLF that ends each (one C pass over a
            # few hundred bytes; a regex per header cost four times the whole head).
            section = b"".join([b"%s: %s\r\n" % header for header in extra])
            if len(section.translate(None, _CONTROL)) != len(section) - 2 * len(extra):
                lines: list[bytes] = []
                for name, value in extra:
                    checked = safe_header(name, value)
                    if checked is not None:
                        lines += (checked[0], b": ", checked[1], b"\r\n")
                section = b"".join(lines)
            head.append(section)
        if not self.body_complete:
            # Answered before the whole body came (too large, say): the rest is not read.
            self.keep_alive = False
        if not self.keep_alive:
            head.append(b"connection: close\r\n")
        return head

    async def respond(
        self,
        status: int,
        body: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
        content_type: bytes = JSON,
    ) -> None:
        """The whole response, head and body, in one write."""
        self.status = status
        head = self._head(status, content_type, extra or [])
        head.append(b"content-length: %d\r\n\r\n" % len(body))
        if not self.head_only:
            head.append(body)
        if self.capture is not None:
            self.capture.client_response.add(body)
        self.finished = True
        self.conn.write(b"".join(head))
        self.conn.done(self)

    async def start_stream(
        self, extra: list[tuple[bytes, bytes]], content_type: bytes = SSE
    ) -> None:
        self.status = 200
        self.streaming = True
        if not self.chunked:
            self.keep_alive = False  # the body ends when the connection does
        head = self._head(200, content_type, extra)
        if self.chunked:
            head.append(b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
        else:
            head.append(b"cache-control: no-cache\r\n\r\n")
        # Sent with the first chunk: one write instead of two.
        self.pending_head = b"".join(head)

    async def chunk(self, data: bytes) -> None:
        if not data:
            return  # an empty chunk would end the stream
        if self.capture is not None:
            self.capture.client_response.add(data)
        conn = self.conn
        if conn.write_paused:
            await conn.drain()
        frame = b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data
        if self.pending_head:
            frame = self.pending_head + frame
            self.pending_head = b""
        conn.write(frame)

    async def end_stream(self) -> None:
        self.finished = True
        self.conn.write(self.pending_head + b"0\r\n\r\n" if self.chunked else self.pending_head)
        self.pending_head = b""
        self.conn.done(self)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)
