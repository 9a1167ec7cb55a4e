"""A loopback HTTP tap between a client and the gateway: forwards each request, passes the
response back as it comes, and keeps every event-stream body, so the streams a client we do
not control (Codex CLI) read can go through the grammar validator."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}


class _Served:
    """A threaded HTTP server on loopback, serving while in its `with` block."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class Tap(_Served):
    def __init__(self, target_port: int) -> None:
        self.streams: list[bytes] = []
        tap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                upstream.request("POST", self.path, body, headers)
                resp = upstream.getresponse()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                kept = bytearray()
                while chunk := resp.read1(65536):
                    kept += chunk
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                upstream.close()
                if resp.getheader("content-type", "").startswith("text/event-stream"):
                    tap.streams.append(bytes(kept))

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)


class Trap(_Served):
    """A proxy that forwards nothing: it records the first line of each connection made to
    it (`CONNECT host:443 ...`) and closes it. Set as a client's HTTPS_PROXY/HTTP_PROXY, it
    shows every connection the client tried to make anywhere but loopback."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one_request(self) -> None:
                line = self.rfile.readline(4096).decode("latin-1").strip()
                if line:
                    trap.seen.append(line)
                self.close_connection = True

        super().__init__(Handler)
