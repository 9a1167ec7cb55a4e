"""The server side of HTTP/1.1 (api/http11.py), over raw sockets against the real gateway:
pipelining, 100-continue, chunked request bodies, refusals in the error envelope, keep-alive
and when the connection closes, HTTP/1.0 streams, and each request-smuggling
shape refused (pinned here so that a parser upgrade cannot drop a defence unnoticed)."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import pytest

from tests.support.envelope import assert_envelope
from tests.support.gateway import GatewayProcess
from tests.support.raw_client import Reader, closed_within

pytestmark = pytest.mark.e2e

KEY = "sk-master-http11"
KEEP_ALIVE = 0.5
LIMIT = 4096
BODY_SECONDS = 5.0
MESSAGE = json.dumps(
    {"model": "demo", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
).encode()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    db = tmp_path_factory.mktemp("http11") / "sb.db"
    config = {
        "master_key": KEY,
        "database": f"sqlite:///{db}",
        "server": {
            "keep_alive_seconds": KEEP_ALIVE,
            "max_body_bytes": LIMIT,
            "body_timeout_seconds": BODY_SECONDS,
        },
        "providers": [{"name": "demo", "kind": "scripted"}],
        "models": [{"id": "demo", "channels": [{"provider": "demo", "model": "echo"}]}],
    }
    with GatewayProcess(config) as gw:
        yield gw


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


# A request that must never be served: smuggled behind a refused one, it would be answered.
SMUGGLED = b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n"


def smuggling(extra: bytes, body: bytes) -> bytes:
    return (
        b"POST /v1/messages HTTP/1.1\r\nhost: t\r\nx-api-key: " + KEY.encode() + b"\r\n"
        b"content-type: application/json\r\n" + extra + b"\r\n" + body + SMUGGLED
    )


CHUNKED_EMPTY = b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "phrase"),
    [
        pytest.param(
            smuggling(b"content-length: 5\r\ntransfer-encoding: chunked\r\n", CHUNKED_EMPTY),
            "malformed HTTP request",
            id="CL then TE",
        ),
        pytest.param(
            smuggling(b"transfer-encoding: chunked\r\ncontent-length: 5\r\n", CHUNKED_EMPTY),
            "malformed HTTP request",
            id="TE then CL",
        ),
        pytest.param(
            smuggling(b"content-length: 5\r\ncontent-length: 0\r\n", b"hello"),
            "malformed HTTP request",
            id="duplicate CL",
        ),
        pytest.param(
            smuggling(b"content-length: 5\r\ncontent-length: 5\r\n", b"hello"),
            "malformed HTTP request",
            id="duplicate equal CL",
        ),
        pytest.param(
            smuggling(b"x-folded: a\r\n content-length: 0\r\ncontent-length: 5\r\n", b"hello"),
            "malformed HTTP request",
            id="obs-fold",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\nhost: t\n\n" + SMUGGLED,
            "malformed HTTP request",
            id="bare LF",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nhost: t\nx-a: b\r\n\r\n" + SMUGGLED,
            "malformed HTTP request",
            id="bare LF in a header",
        ),
        pytest.param(
            smuggling(b"transfer-encoding: identity, chunked\r\n", CHUNKED_EMPTY),
            "transfer-encoding other than a single `chunked`",
            id="TE identity, chunked",
        ),
        pytest.param(
            smuggling(
                b"transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n", CHUNKED_EMPTY
            ),
            "malformed HTTP request",  # llhttp refuses it first; http11 would too
            id="TE twice",
        ),
        pytest.param(
            b"GET /health HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n" + SMUGGLED,
            "more than one Host header",
            id="duplicate Host",
        ),
    ],
)
def test_a_smuggling_shape_is_refused_and_nothing_behind_it_is_served(
    gateway: GatewayProcess, request_bytes: bytes, phrase: str
) -> None:
    with connect(gateway) as sock:
        sock.sendall(request_bytes)
        reader = Reader(sock)
        (reply,) = reader.read()
        # Closed with no second response: the request behind it was not read as one.
        assert closed_within(sock, 3)
        assert reader.done == []
    assert_envelope(reply, 400, "invalid_request_error", phrase)
    assert reply.headers["connection"] == "close"


def test_a_malformed_chunk_is_refused_at_once(gateway: GatewayProcess) -> None:
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: t\r\nx-api-key: {KEY}\r\n"
        "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    ).encode()
    with connect(gateway) as sock:
        sock.sendall(head + b'5\r\n{"a":\r\n')
        time.sleep(0.1)  # the handler is waiting for the rest of the body
        started = time.monotonic()
        sock.sendall(b"zz\r\nnot a chunk\r\n")
        (reply,) = Reader(sock).read(timeout=BODY_SECONDS * 2)
        waited = time.monotonic() - started
        assert closed_within(sock, 3)
    # A 400 now, not a 408 when the body's deadline passes.
    assert_envelope(reply, 400, "invalid_request_error", "malformed HTTP request")
    assert waited < BODY_SECONDS / 2
    assert reply.headers["connection"] == "close"


def test_an_http_10_stream_is_delimited_by_the_close(gateway: GatewayProcess) -> None:
    body = json.dumps(
        {
            "model": "demo",
            "max_tokens": 16,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
    ).encode()
    request = (
        f"POST /v1/messages HTTP/1.0\r\nx-api-key: {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    with connect(gateway) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):  # HTTP/1.0 knows no chunks: the close ends the body
            data += chunk
    head, stream = data.split(b"\r\n\r\n", 1)
    lines = head.lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 200")
    assert b"content-type: text/event-stream; charset=utf-8" in lines
    assert b"connection: close" in lines
    assert not any(line.startswith(b"transfer-encoding") for line in lines)
    # The events as they are, no chunk sizes between them.
    assert stream.startswith(b"event: message_start\r\n") or stream.startswith(
        b"event: message_start\n"
    )
    assert stream.rstrip().endswith(b'{"type":"message_stop"}')


def test_a_head_that_never_ends_is_refused_once_past_the_cap(gateway: GatewayProcess) -> None:
    piece = b"a" * 16384
    cap = 64 * 1024
    sent = 0
    with connect(gateway) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: t\r\nx-endless: ")
        time.sleep(0.2)  # the head begins in a read of its own
        try:
            # A header line that never ends, in reads of its own: the parser would buffer it
            # all (it calls back only with whole lines).
            while sent < 1024 * 1024:
                sock.sendall(piece)
                sent += len(piece)
                # Past the cap, give the gateway time to answer before sending more.
                if select.select([sock], [], [], 0.02 if sent <= cap else 0.5)[0]:
                    break  # the answer is there
        except (BrokenPipeError, ConnectionResetError):
            pass
        (reply,) = Reader(sock).read()
        assert closed_within(sock, 3)
    assert_envelope(reply, 431, "invalid_request_error", "headers exceed 65536 bytes")
    assert sent <= cap + 2 * len(piece)
