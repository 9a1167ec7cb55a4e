"""Two scripted upstreams (a primary and a backup) behind one real gateway process, with short
timeouts and a quick back-off, so every fault case runs in about a second."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import GatewayProcess, free_port
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_stream

MASTER_KEY = "sk-master-resilience"
CLIENT_KEY = "sk-client-resilience"
PRIMARY_KEY = "sk-primary-secret"
BACKUP_KEY = "sk-backup-secret"
ROTATING_KEYS = ["sk-rotate-one", "sk-rotate-two"]
MAX_ATTEMPTS = 3
FIRST_BYTE = 0.8
MAX_REPLY = 8192


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


def config(
    primary: ScriptedUpstream, backup: ScriptedUpstream, blackhole: Blackhole, resetter: Resetter
) -> dict[str, Any]:
    fast = {"connect": 2, "first_byte": FIRST_BYTE, "idle": FIRST_BYTE, "total": 5}
    return {
        "master_key": MASTER_KEY,
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "server": {"max_messages": 8, "max_tools": 4, "body_timeout_seconds": 1},
        "routing": {
            "max_attempts": MAX_ATTEMPTS,
            "max_retry_seconds": 5,
            "backoff_seconds": 0.05,
            "max_backoff_seconds": 0.2,
            # No channel rests in this suite (not even for a retry-after): each case sees its
            # own failover. test_health.py covers resting.
            "health": {"failures": 10_000, "min_requests": 10_000, "cooldown_seconds": 0.01},
        },
        "providers": [
            {
                "name": "primary",
                "kind": "openai",
                "base_url": primary.openai_base,
                "api_key": PRIMARY_KEY,
                "timeouts": fast,
                "max_reply_bytes": MAX_REPLY,
            },
            {
                "name": "backup",
                "kind": "openai",
                "base_url": backup.openai_base,
                "api_key": BACKUP_KEY,
            },
            {
                "name": "ant-primary",
                "kind": "anthropic",
                "base_url": primary.anthropic_base,
                "timeouts": fast,
                "max_reply_bytes": MAX_REPLY,
            },
            {"name": "ant-backup", "kind": "anthropic", "base_url": backup.anthropic_base},
            {"name": "dead", "kind": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1"},
            {
                # A slow first byte is not an idle stream: `idle` must not cut it.
                "name": "patient",
                "kind": "openai",
                "base_url": primary.openai_base,
                "timeouts": {"first_byte": 3, "idle": 0.3, "total": 5},
            },
            {
                "name": "brief",
                "kind": "openai",
                "base_url": primary.openai_base,
                "timeouts": {"first_byte": 5, "idle": 5, "total": 0.6},
            },
            {
                "name": "blackhole",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{blackhole.port}/v1",
                "timeouts": {"connect": 0.5, "first_byte": 5},
            },
            {
                "name": "resetting",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{resetter.port}",
            },
            {
                "name": "rotating",
                "kind": "openai",
                "base_url": backup.openai_base,
                "api_key": ROTATING_KEYS[0],
                "api_keys": ROTATING_KEYS[1:],
            },
        ],
        "models": [
            {
                "id": "test/pair",
                "channels": [
                    {"provider": "primary", "model": "p-model"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
            {"id": "test/solo", "channels": [{"provider": "primary", "model": "p-model"}]},
            {
                # Anthropic upstreams: the pass-through (relay) path.
                "id": "test/ant-pair",
                "channels": [
                    {"provider": "ant-primary", "model": "p-claude"},
                    {"provider": "ant-backup", "model": "b-claude", "priority": 1},
                ],
            },
            {
                "id": "test/refused",
                "channels": [
                    {"provider": "dead", "model": "gone"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
            {"id": "test/patient", "channels": [{"provider": "patient", "model": "p-model"}]},
            {"id": "test/brief", "channels": [{"provider": "brief", "model": "p-model"}]},
            {
                "id": "test/sticky",
                "channels": [
                    {"provider": "primary", "model": "p-model"},
                    {"provider": "backup", "model": "b-model"},
                ],
            },
            {"id": "test/keys", "channels": [{"provider": "rotating", "model": "r-model"}]},
            {
                "id": "test/blackhole",
                "channels": [
                    {"provider": "blackhole", "model": "x"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
            {
                "id": "test/reset",
                "channels": [
                    {"provider": "resetting", "model": "x"},
                    {"provider": "backup", "model": "b-model", "priority": 1},
                ],
            },
        ],
    }


@pytest.fixture(scope="session")
def primary() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def backup() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


@pytest.fixture(scope="session")
def resetter() -> Iterator[Resetter]:
    server = Resetter()
    yield server
    server.close()


@pytest.fixture(scope="session")
def gateway(
    primary: ScriptedUpstream, backup: ScriptedUpstream, blackhole: Blackhole, resetter: Resetter
) -> Iterator[GatewayProcess]:
    with GatewayProcess(config(primary, backup, blackhole, resetter)) as gw:
        yield gw
    output = gw.output()
    for secret in (MASTER_KEY, CLIENT_KEY, PRIMARY_KEY, BACKUP_KEY, *ROTATING_KEYS):
        assert secret not in output, "a secret reached the gateway's log"


@pytest.fixture(autouse=True)
def _fresh(primary: ScriptedUpstream, backup: ScriptedUpstream) -> None:
    primary.reset()
    backup.reset()


def post(
    gw: GatewayProcess, body: dict[str, Any], *, timeout: float = 10, **headers: str
) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/messages",
        json=body,
        headers={"x-api-key": CLIENT_KEY, **headers},
        timeout=timeout,
    )


def stream(gw: GatewayProcess, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    with httpx.stream(
        "POST",
        gw.url + "/v1/messages",
        json={**body, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
        timeout=10,
    ) as resp:
        return resp, resp.read()
