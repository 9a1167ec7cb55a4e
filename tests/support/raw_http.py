"""Raw HTTP/1.1 servers on loopback: asyncio streams that send exactly the bytes a test needs,
including the awkward ones, over TCP or TLS (the upstream client's tests), and two threaded
faults for a running gateway: a port that never accepts and a stream that is reset."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from switchboard.upstreams.connection import Deadlines
from switchboard.upstreams.reply import Reply

from .openai_wire import openai_stream

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
FAST = Deadlines(connect=2, first_byte=2, idle=2, total=5)
MiB = 1 << 20


def on_loop(case: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Runs an async test case on a fresh event loop, bounded in time."""

    @functools.wraps(case)
    def run() -> None:
        asyncio.run(asyncio.wait_for(case(), 20))

    return run


async def read_request(r: asyncio.StreamReader) -> bytes:
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await r.readexactly(length)


class Server:
    """Counts connections; runs `handler` for each."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(r, w)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                w.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1/chat?x=1"

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port


async def body_of(reply: Reply) -> bytes:
    out = b""
    while piece := await reply.chunk():
        out += piece
    reply.release()
    return out


def replies(*raw: bytes) -> Handler:
    """Answers each request on the connection with the next of `raw`, then waits."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        for item in raw:
            await read_request(r)
            w.write(item)
            await w.drain()
        await r.read()

    return handler


OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


def gzip_bomb(mebibytes: int) -> bytes:
    """A valid gzip body of `mebibytes` MiB of zeros, about 1 KiB per MiB: one deflated MiB
    (its own window, flushed to a byte boundary) repeated, then an empty final block."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    crc, zeros = 0, bytes(MiB)
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    trailer = struct.pack("<II", crc, (mebibytes * MiB) & 0xFFFFFFFF)
    return header + block * mebibytes + final + trailer


class Blackhole:
    """A port that never completes a TCP handshake: its accept queue is full and never
    drained, so the kernel drops new SYNs and a client's connect hangs (a connect timeout)."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._filler = socket.create_connection(("127.0.0.1", self.port), timeout=2)

    def close(self) -> None:
        self._filler.close()
        self._listener.close()


class Resetter:
    """Answers every request with the first two chunks of an OpenAI stream, then resets the
    connection (RST, not a clean close): a connection reset mid-stream."""

    def __init__(self, frames: str | None = None) -> None:
        """`frames`: the stream's start in another wire format (two OpenAI chunks by default)."""
        self._frames = frames
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        frames = self._frames or "".join(
            str(f) for f in openai_stream(["partial ", "answer"]).frames[:2]
        )
        # Chunked, as real upstreams stream: the reset lands inside an unfinished body.
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            "transfer-encoding: chunked\r\n\r\n"
        )
        frames = f"{len(frames.encode()):x}\r\n{frames}\r\n"
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                conn.sendall((head + frames).encode())
                # Linger 0: close() sends a reset instead of a FIN.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
