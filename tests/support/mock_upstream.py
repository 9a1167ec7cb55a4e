"""ScriptedUpstream: a real HTTP server on 127.0.0.1 that plays scripted provider replies.

It speaks both dialects a gateway calls: OpenAI chat completions and Anthropic Messages. Replies
are queued with :meth:`ScriptedUpstream.enqueue` and consumed FIFO by the next request on *any*
route (including ``GET /v1/models`` and unknown paths); with an empty queue each route answers
with a plausible default, or with what ``responder`` makes of the request (an upstream that
decides from what it is asked, as a model driving an agent does, or one that plays a scenario in
its own dialect). The builders are re-exported here so tests need one import.

It is the one scripted upstream of the suite: tests/openai_surface/upstreams.py (a scenario
table in both dialects) and tests/clients/agent_upstream.py (an agent's model) are responders.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType

from aiohttp import web

from .anthropic_wire import (
    ToolUseBlock,
    anthropic_error,
    anthropic_error_event,
    anthropic_event,
    anthropic_message,
    anthropic_stream,
    anthropic_stream_events,
)
from .openai_wire import openai_completion, openai_error, openai_stream, openai_tool_call
from .replies import DropReply, HangReply, JsonReply, Received, Reply, SSEReply
from .upstream_defaults import default_reply

__all__ = [
    "DropReply",
    "HangReply",
    "JsonReply",
    "Received",
    "Reply",
    "SSEReply",
    "ScriptedUpstream",
    "ToolUseBlock",
    "anthropic_error",
    "anthropic_error_event",
    "anthropic_event",
    "anthropic_message",
    "anthropic_stream",
    "anthropic_stream_events",
    "openai_completion",
    "openai_error",
    "openai_stream",
    "openai_tool_call",
]

Responder = Callable[[Received], Reply]

# How often sleeping handlers look for a vanished client or a stop request. Small enough that
# client_closed is set promptly, large enough not to spin.
_POLL_SECONDS = 0.01
_MAX_BODY = 256 * 1024 * 1024


class ScriptedUpstream:
    """Scripted provider server running its own event loop in a background thread."""

    def __init__(self, responder: Responder | None = None) -> None:
        self._responder = responder
        self._cond = threading.Condition()  # guards _queue and _received
        self._queue: deque[Reply] = deque()
        self._received: list[Received] = []
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> ScriptedUpstream:
        if self._thread is not None:
            raise RuntimeError("ScriptedUpstream already started")
        # Binding here (not in the thread) makes the port known before start() returns and
        # avoids the pick-a-free-port-then-bind race.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"ScriptedUpstream:{self._port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("ScriptedUpstream did not start in time")
        if self._startup_error is not None:
            error, self._startup_error = self._startup_error, None
            self._thread.join()
            self._thread = None
            self._ready.clear()
            raise RuntimeError("ScriptedUpstream failed to start") from error
        return self

    def stop(self) -> None:
        """Stop serving; in-flight hanging or streaming replies are cut off."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        self._stopping.set()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        # Leave the object restartable: start() waits on _ready and handlers watch _stopping.
        self._thread = None
        self._ready.clear()
        self._stopping.clear()

    def __enter__(self) -> ScriptedUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("ScriptedUpstream not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("ScriptedUpstream not started")
        return self._port

    @property
    def openai_base(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base(self) -> str:
        return self.base_url

    # -- scripting and inspection ----------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        with self._cond:
            self._queue.extend(replies)

    @property
    def received(self) -> list[Received]:
        """A snapshot of the requests seen so far, in arrival order."""
        with self._cond:
            return list(self._received)

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        with self._cond:
            return len(self._queue)

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._received.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least ``count`` requests arrived; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(f"expected {count} requests, saw {len(self._received)}")
            return list(self._received)

    def wait_closed(self, timeout: float = 5.0, index: int = -1) -> bool:
        """True once the client dropped the connection of request ``index`` before its reply ended.

        Waits for that request to arrive first; both waits share ``timeout``.
        """
        deadline = time.monotonic() + timeout
        needed = index + 1 if index >= 0 else -index
        try:
            seen = self.wait_for_requests(needed, timeout)
        except TimeoutError:
            return False
        return seen[index].client_closed.wait(max(0.0, deadline - time.monotonic()))

    # -- server thread ---------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            runner = loop.run_until_complete(self._open(sock))
        except BaseException as exc:  # noqa: BLE001 - handed to start() to re-raise
            self._startup_error = exc
            sock.close()
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self, sock: socket.socket) -> web.AppRunner:
        # aiohttp's default 1 MiB body cap would turn big gateway requests into 413s here.
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Short shutdown_timeout: handlers notice _stopping within _POLL_SECONDS anyway.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            parsed: object | None = json.loads(body) if body else None
        except ValueError:
            parsed = None
        rec = Received(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=_lower_headers(request.headers.items()),
            body=body,
            json=parsed,
        )
        # Record and pop under one lock so the n-th recorded request got the n-th reply.
        with self._cond:
            self._received.append(rec)
            reply = self._queue.popleft() if self._queue else None
            self._cond.notify_all()
        if reply is None and self._responder is not None:
            reply = self._responder(rec)
        if reply is None:
            reply = default_reply(request.method, request.path, parsed)
        return await self._send(request, rec, reply)

    async def _send(self, request: web.Request, rec: Received, reply: Reply) -> web.StreamResponse:
        if isinstance(reply, HangReply):
            if not await self._sleep(request, rec, reply.seconds):
                return _drop(request)
            then = reply.then
            reply = (
                then if then is not None else default_reply(request.method, request.path, rec.json)
            )
        if isinstance(reply, DropReply):
            return _drop(request)
        if isinstance(reply, JsonReply):
            return _json_response(reply)
        return await self._stream(request, rec, reply)

    async def _stream(
        self, request: web.Request, rec: Received, reply: SSEReply
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=reply.status, headers=_headers(reply.headers, reply.content_type)
        )
        try:
            await resp.prepare(request)
            for i, frame in enumerate(reply.frames):
                if reply.hang_after is not None and i >= reply.hang_after:
                    break
                if i and reply.delay and not await self._sleep(request, rec, reply.delay):
                    return _drop(request, resp)
                await resp.write(frame.encode() if isinstance(frame, str) else frame)
            if reply.hang_after is not None:
                await self._sleep(request, rec, None)
                return _drop(request, resp)
            await resp.write_eof()
        except ConnectionError:
            rec.client_closed.set()
        return resp

    async def _sleep(self, request: web.Request, rec: Received, seconds: float | None) -> bool:
        """Sleep (forever when None) watching the client; False if it left or we are stopping."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                rec.client_closed.set()
                return False
            if self._stopping.is_set():
                return False
            await asyncio.sleep(_POLL_SECONDS)
        return True


def _lower_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    # Repeated headers (e.g. several anthropic-beta lines) are joined as HTTP allows.
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _headers(extra: dict[str, str], content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    # A scripted Content-Type header wins over content_type, whatever its case.
    for name, value in extra.items():
        if name.lower() == "content-type":
            headers.pop("Content-Type", None)
        headers[name] = value
    return headers


def _json_response(reply: JsonReply) -> web.Response:
    if isinstance(reply.body, bytes):
        raw = reply.body
    elif isinstance(reply.body, str):
        raw = reply.body.encode()
    else:
        raw = json.dumps(reply.body).encode()
    return web.Response(
        status=reply.status, body=raw, headers=_headers(reply.headers, reply.content_type)
    )


def _drop(request: web.Request, resp: web.StreamResponse | None = None) -> web.StreamResponse:
    """Close the socket; aiohttp swallows the ConnectionError from finishing the response."""
    if request.transport is not None:
        request.transport.close()
    return resp if resp is not None else web.Response()
