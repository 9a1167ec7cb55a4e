"""HTTP/1.1 over a raw socket, as a client (raw_http.py holds the raw servers), for tests that
must control every byte a client sends: the responses off one connection, parsed in order by
httptools, and whether the server closed it."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field

import httptools

from tests.support.envelope import assert_envelope

__all__ = ["Reader", "Response", "assert_envelope", "closed_within"]


@dataclass
class Response:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False

    def json(self) -> dict[str, object]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


class Reader:
    """Responses off one socket, in order, parsed by httptools."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.done: list[Response] = []
        self.current = Response()
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self.current.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.current.body += body

    def on_message_complete(self) -> None:
        self.current.complete = True
        self.done.append(self.current)
        self.current = Response()

    def read(self, count: int = 1, timeout: float = 5.0) -> list[Response]:
        self.sock.settimeout(timeout)
        while len(self.done) < count:
            data = self.sock.recv(65536)
            if not data:
                break
            self.parser.feed_data(data)
        taken, self.done = self.done[:count], self.done[count:]
        return taken


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (nothing else arrives)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
