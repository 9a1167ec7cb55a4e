"""The little of ASGI the handlers need, written against the raw interface: no framework
middleware sits on the hot path (performance-facts: BaseHTTPMiddleware alone costs 4x)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from switchboard.errors import RequestTimeout, RequestTooLarge
from switchboard.ids import request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"


class Exchange:
    """One request and its response: headers read once, a request id, what was sent."""

    __slots__ = (
        "body_deadline",
        "body_expired",
        "client_gone",
        "dialect",
        "finished",
        "headers",
        "log",
        "method",
        "path",
        "query",
        "receive",
        "request_id",
        "send",
        "started",
        "status",
        "streaming",
        "task",
        "watched",
        "watcher",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            # Repeated headers (anthropic-beta may be) are joined as HTTP says.
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        self.headers = headers
        self.receive = receive
        self.send = send
        self.request_id = request_id()
        self.started = time.perf_counter()
        self.status = 0  # 0 until the response has started
        self.streaming = False
        self.finished = False  # the last byte of the response was sent
        self.client_gone = False  # the client disconnected before that
        self.log: dict[str, Any] = {}
        # Which client dialect's error envelope this exchange answers failures in.
        self.dialect: Literal["anthropic", "openai"] = "anthropic"
        # The task serving the request (the server runs each in its own), looked up once:
        # the body deadline and the disconnect watch both cancel it.
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        # Looked after by InFlight's timer: the loop time the body must have arrived by (0:
        # none), and whether it did not.
        self.body_deadline = 0.0
        self.body_expired = False
        # Inside cancel_on_disconnect, and the watch InFlight started (after a tick).
        self.watched = False
        self.watcher: asyncio.Task[None] | None = None

    async def body(self, limit: int, seconds: float | None = None) -> bytes:
        """The whole body, at most `limit` bytes, within `seconds` (against slow clients)."""
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"request body is larger than the {limit}-byte limit")
        if seconds is None:
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
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] != "http.request":
                if message["type"] == "http.disconnect":
                    self.client_gone = True
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge(f"request body is larger than the {limit}-byte limit")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _headers(self, content_type: bytes, extra: list[tuple[bytes, bytes]]) -> list[Any]:
        return [
            (b"content-type", content_type),
            (b"request-id", self.request_id.encode()),
            (b"x-request-id", self.request_id.encode()),
            *extra,
        ]

    async def respond(
        self,
        status: int,
        body: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
        content_type: bytes = JSON,
    ) -> None:
        self.status = status
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": self._headers(content_type, extra or []),
            }
        )
        self.finished = True
        await self.send({"type": "http.response.body", "body": body})

    async def start_stream(self, extra: list[tuple[bytes, bytes]]) -> None:
        self.status = 200
        self.streaming = True
        headers = self._headers(b"text/event-stream; charset=utf-8", extra)
        headers.append((b"cache-control", b"no-cache"))
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})

    async def chunk(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end_stream(self) -> None:
        self.finished = True
        await self.send({"type": "http.response.body", "body": b""})

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)
