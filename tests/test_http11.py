"""The server side of HTTP/1.1 (api/http11.py), over raw sockets against the real gateway:
pipelining, 100-continue, chunked request bodies, refusals in the error envelope, keep-alive
and when the connection closes."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httptools
import pytest

from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

KEY = "sk-master-http11"
KEEP_ALIVE = 0.5
LIMIT = 4096
MESSAGE = json.dumps(
    {"model": "demo", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
).encode()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    db = tmp_path_factory.mktemp("http11") / "sb.db"
    config = {
        "master_key": KEY,
        "database": f"sqlite:///{db}",
        "server": {"keep_alive_seconds": KEEP_ALIVE, "max_body_bytes": LIMIT},
        "providers": [{"name": "demo", "kind": "scripted"}],
        "models": [{"id": "demo", "channels": [{"provider": "demo", "model": "echo"}]}],
    }
    with GatewayProcess(config) as gw:
        yield gw


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


def connect(gateway: GatewayProcess) -> socket.socket:
    assert gateway.port is not None
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=5)


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nhost: t\r\nx-api-key: {KEY}\r\n{extra}\r\n".encode()


def post(body: bytes, extra: str = "") -> bytes:
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: t\r\nx-api-key: {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within `seconds` (nothing else arrives)."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def assert_envelope(resp: Response, status: int, error_type: str, phrase: str) -> None:
    assert resp.status == status
    body = resp.json()
    assert body["type"] == "error"
    error = body["error"]
    assert isinstance(error, dict)
    assert error["type"] == error_type
    assert phrase in str(error["message"])
    assert body["request_id"] == resp.headers["request-id"]
    assert str(body["request_id"]).startswith("req_")


def test_pipelined_requests_are_answered_in_order(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        sock.sendall(get("/health") + post(MESSAGE) + get("/no/such/route") + get("/v1/models"))
        replies = Reader(sock).read(4)
    assert [r.status for r in replies] == [200, 200, 404, 200]
    assert replies[0].json() == {"status": "ok"}
    assert replies[1].json()["type"] == "message"
    assert replies[3].json()["data"]
    assert len({r.headers["request-id"] for r in replies}) == 4


def test_expect_100_continue_is_answered_before_the_body(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        request = post(MESSAGE, "expect: 100-continue\r\n")
        head, body = request.split(b"\r\n\r\n", 1)
        sock.sendall(head + b"\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        (reply,) = Reader(sock).read()
    assert reply.status == 200
    assert reply.json()["type"] == "message"


def test_a_chunked_request_body_is_read_whole(gateway: GatewayProcess) -> None:
    pieces = [MESSAGE[:10], MESSAGE[10:40], MESSAGE[40:]]
    chunked = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: t\r\nx-api-key: {KEY}\r\n"
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    ).encode()
    with connect(gateway) as sock:
        sock.sendall(head)
        for part in (chunked[:7], chunked[7:50], chunked[50:]):
            time.sleep(0.05)  # the body arrives in several reads
            sock.sendall(part)
        (reply,) = Reader(sock).read()
    assert reply.status == 200, reply.body
    assert reply.json()["content"]


def test_a_percent_encoded_path_is_decoded(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        sock.sendall(get("/v1/models/de%6Do"))
        (reply,) = Reader(sock).read()
    assert reply.status == 200
    assert reply.json()["id"] == "demo"


def test_bytes_that_are_not_http_get_an_error_envelope_and_a_close(
    gateway: GatewayProcess,
) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        (reply,) = Reader(sock).read()
        assert closed_within(sock, 3)
    assert_envelope(reply, 400, "invalid_request_error", "malformed HTTP request")
    assert reply.headers["connection"] == "close"


def test_an_oversized_head_is_refused_with_431(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        sock.sendall(get("/health", "x-filler: " + "a" * 70_000 + "\r\n"))
        (reply,) = Reader(sock).read()
        assert closed_within(sock, 3)
    assert_envelope(reply, 431, "invalid_request_error", "headers exceed 65536 bytes")


def test_a_body_refused_before_it_arrived_closes_the_connection(gateway: GatewayProcess) -> None:
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: t\r\nx-api-key: {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {LIMIT * 4}\r\n\r\n"
    ).encode()
    with connect(gateway) as sock:
        sock.sendall(head + b"{")  # the rest never comes: the answer must not wait for it
        (reply,) = Reader(sock).read()
        assert closed_within(sock, 3)
    assert_envelope(reply, 413, "request_too_large", f"{LIMIT}-byte limit")
    assert reply.headers["connection"] == "close"


def test_head_is_get_without_the_body_and_the_connection_stays_usable(
    gateway: GatewayProcess,
) -> None:
    with connect(gateway) as sock:
        sock.sendall(b"HEAD /health HTTP/1.1\r\nhost: t\r\n\r\n" + get("/health"))
        sock.settimeout(5)
        data = b""
        while data.count(b"HTTP/1.1") < 2 or not data.endswith(b'{"status":"ok"}'):
            data += sock.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: 15" in head
    # No body after the HEAD's head: the GET's response follows at once.
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert rest.endswith(b'\r\n\r\n{"status":"ok"}')


def test_connection_close_and_http_10_end_the_connection(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        sock.sendall(get("/health", "connection: close\r\n"))
        (reply,) = Reader(sock).read()
        assert reply.headers["connection"] == "close"
        assert closed_within(sock, 3)
    with connect(gateway) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        (reply,) = Reader(sock).read()
        assert reply.status == 200
        assert closed_within(sock, 3)


def test_an_idle_connection_is_closed_after_keep_alive_seconds(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        reader = Reader(sock)
        # In use for three times the idle limit, never idle that long: it stays open.
        for _ in range(6):
            sock.sendall(get("/health"))
            (reply,) = reader.read()
            assert reply.status == 200
            time.sleep(KEEP_ALIVE / 2)
        started = time.monotonic()
        assert closed_within(sock, KEEP_ALIVE * 6)
        waited = time.monotonic() - started
    assert KEEP_ALIVE / 2 - 0.1 <= waited <= KEEP_ALIVE * 3


def test_a_connection_that_never_sends_is_closed(gateway: GatewayProcess) -> None:
    with connect(gateway) as sock:
        assert closed_within(sock, KEEP_ALIVE * 6)
