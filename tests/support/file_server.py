"""A plain HTTP file server on a loopback address for document-fetch tests: scripted replies
per path (sizes, with or without Content-Length, trickled, redirects with raw Location bytes),
and a record of every request it received, so a test can prove a refused URL was never hit."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/pdf"
    # None: close-delimited (no Content-Length); else the length announced (may lie).
    length: int | None = -1  # -1: the body's real length
    location: str | None = None  # a redirect target, sent as UTF-8 bytes, unchecked
    chunk: int = 0  # > 0: the body is sent in pieces of this size, each flushed after a pause
    pause: float = 0.01
    hold: float = 0.0  # seconds to keep the connection open after the body


@dataclass(frozen=True)
class Hit:
    path: str
    host: str


@dataclass
class FileServer:
    """Serves `routes` on `address` (loopback only); `hits` lists every request received."""

    address: str = "127.0.0.1"
    routes: dict[str, Reply] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def __enter__(self) -> FileServer:
        assert self.address.startswith("127."), "test servers listen on loopback only"
        server = ThreadingHTTPServer((self.address, 0), _handler(self))
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


def _handler(files: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files.hits.append(Hit(self.path, self.headers.get("host", "")))
            reply = files.routes.get(self.path, Reply(b"not found", 404, "text/plain"))
            lines = [f"HTTP/1.0 {reply.status} X".encode(), b"Connection: close"]
            lines.append(f"Content-Type: {reply.content_type}".encode())
            length = len(reply.body) if reply.length == -1 else reply.length
            if length is not None:
                lines.append(f"Content-Length: {length}".encode())
            if reply.location is not None:
                lines.append(b"Location: " + reply.location.encode())
            try:
                self.wfile.write(b"\r\n".join(lines) + b"\r\n\r\n")
                step = reply.chunk or len(reply.body) or 1
                for start in range(0, len(reply.body), step):
                    self.wfile.write(reply.body[start : start + step])
                    self.wfile.flush()
                    if reply.chunk:
                        time.sleep(reply.pause)
                time.sleep(reply.hold)
            except OSError:
                pass  # the client went away: what a refusing fetcher does

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
