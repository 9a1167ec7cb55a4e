"""The server side of HTTP/1.1 with a real upstream behind the gateway, over raw sockets:
response headers hold whatever a client put in its request without being split (the loss
report names client tool names and types), a half-closed client still gets its answer, and a
failed large request leaves no memory behind."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import GatewayProcess, free_port
from tests.support.mock_upstream import HangReply, ScriptedUpstream
from tests.support.raw_client import Reader, closed_within

pytestmark = pytest.mark.e2e

KEY = "sk-master-served"
BIG = 16 * 1024 * 1024
# A value that, written raw into a header, would end the head and forge a second response.
FORGED = "x\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nforged!"


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    db: Path = tmp_path_factory.mktemp("served") / "sb.db"
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here: connection refused
    config = {
        "master_key": KEY,
        "database": f"sqlite:///{db}",
        "server": {"max_body_bytes": BIG + 1024 * 1024},
        "routing": {"max_retry_seconds": 1, "backoff_seconds": 5},
        "providers": [
            # strict_schemas: the loss report names tools whose schema keywords were removed.
            {
                "name": "up",
                "kind": "openai",
                "base_url": upstream.openai_base,
                "strict_schemas": True,
            },
            {"name": "ant", "kind": "anthropic", "base_url": upstream.anthropic_base},
            {"name": "dead", "kind": "openai", "base_url": dead},
        ],
        "models": [
            {"id": "up", "channels": [{"provider": "up", "model": "m"}]},
            {"id": "ant", "channels": [{"provider": "ant", "model": "claude-up"}]},
            {"id": "dead", "channels": [{"provider": "dead", "model": "gone"}]},
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw


def connect(gateway: GatewayProcess) -> socket.socket:
    assert gateway.port is not None
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=5)


def post(path: str, body: object, extra: str = "") -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(data)}\r\n{extra}\r\n"
    )
    return head.encode() + data


HEALTH = b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n"
USER = [{"role": "user", "content": "hi"}]
SCHEMA = {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("path", "body", "reported"),
    [
        pytest.param(
            "/v1/messages",
            {
                "model": "up",
                "max_tokens": 16,
                "messages": USER,
                "tools": [
                    {"name": "calc", "input_schema": SCHEMA},
                    {"name": "web\r\nset-cookie: a=b", "type": FORGED},
                ],
            },
            "tool web%0D%0Aset-cookie: a=b (x%0D%0Acontent-length: 0%0D%0A%0D%0AHTTP/1.1 200 OK",
            id="anthropic tool name and type",
        ),
        pytest.param(
            "/v1/messages",
            {
                "model": "up",
                "max_tokens": 16,
                "messages": USER,
                "tools": [{"name": FORGED, "input_schema": {**SCHEMA, "$schema": "x"}}],
            },
            "tools.x%0D%0Acontent-length: 0%0D%0A%0D%0AHTTP/1.1 200 OK",
            id="tool name in a removed schema keyword",
        ),
        pytest.param(
            "/v1/chat/completions",
            # Translated for an Anthropic upstream: an unknown field is reported by its name.
            {"model": "ant", "messages": USER, FORGED: 1},
            "x%0D%0Acontent-length: 0%0D%0A%0D%0AHTTP/1.1 200 OK",
            id="openai field name",
        ),
    ],
)
def test_a_client_value_in_a_header_cannot_split_the_response(
    gateway: GatewayProcess, path: str, body: dict[str, object], reported: str
) -> None:
    with connect(gateway) as sock:
        # Keep-alive: what follows the first response on this connection is the next answer.
        sock.sendall(post(path, body))
        reader = Reader(sock)
        (first,) = reader.read()
        sock.sendall(HEALTH)
        (second,) = reader.read()
    assert first.status == 200, first.body
    assert first.json()["model"] == body["model"]
    dropped = first.headers["switchboard-dropped"]
    assert reported in dropped
    assert "\r" not in dropped
    assert "\n" not in dropped
    assert "set-cookie" not in first.headers
    # The next request on the connection gets its own, real response.
    assert second.status == 200
    assert second.json() == {"status": "ok"}
    assert second.headers["request-id"] != first.headers["request-id"]


def test_the_loss_report_header_is_bounded(gateway: GatewayProcess) -> None:
    tools = [{"name": f"t{i}" + "n" * 60, "type": "computer_" + "v" * 300} for i in range(200)]
    body = {"model": "up", "max_tokens": 16, "messages": USER, "tools": tools}
    with connect(gateway) as sock:
        sock.sendall(post("/v1/messages", body))
        (reply,) = Reader(sock).read()
    assert reply.status == 200, reply.body
    dropped = reply.headers["switchboard-dropped"]
    assert len(dropped) <= 2048
    assert dropped.endswith("more in the request log")


def test_a_half_closed_client_still_gets_its_answer(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(HangReply(0.3))  # the answer takes a while: the EOF arrives first
    body = {"model": "up", "max_tokens": 16, "messages": USER}
    with connect(gateway) as sock:
        sock.sendall(post("/v1/messages", body))
        sock.shutdown(socket.SHUT_WR)  # everything is sent; the client reads on
        # An interim 102 may come first: the gateway's way to tell a half-close from a
        # client that left (which answers it with a reset and has its request cancelled).
        replies = Reader(sock).read(2)
        assert closed_within(sock, 3)  # and then the connection ends
    assert [r.status for r in replies] == [102, 200]
    assert replies[1].json()["type"] == "message"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_failed_large_requests_leave_no_memory_behind(gateway: GatewayProcess) -> None:
    """Each request fails at an unreachable upstream after its 16 MiB body was read: the
    error's traceback held the request in a cycle that the (frozen, rarely run) cyclic
    collector never freed, 60 MiB kept per request."""
    content = "x" * BIG
    body = json.dumps(
        {"model": "dead", "max_tokens": 16, "messages": [{"role": "user", "content": content}]}
    ).encode()
    request = post("/v1/messages", body, "connection: close\r\n")

    def fail_once() -> None:
        with connect(gateway) as sock:
            sock.sendall(request)
            (reply,) = Reader(sock).read(timeout=10)
        assert reply.status == 502, reply.body

    fail_once()  # the allocator's pools are as large as one request needs
    time.sleep(0.2)
    baseline = rss_mib(gateway.pid)
    for _ in range(6):
        fail_once()
    time.sleep(0.2)
    grown = rss_mib(gateway.pid) - baseline
    assert grown < 48, f"RSS grew {grown:.0f} MiB over 6 failed 16 MiB requests"
