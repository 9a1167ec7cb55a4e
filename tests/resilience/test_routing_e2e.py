"""Routing as a client sees it: key rotation, sticky sessions, the admin view, the metrics,
cancellation of the upstream when the client goes, and the request bounds."""

from __future__ import annotations

import socket
import time
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.resilience.conftest import (
    CLIENT_KEY,
    MASTER_KEY,
    PRIMARY_KEY,
    ROTATING_KEYS,
    post,
)
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_error, openai_stream
from tests.support.replies import HangReply, SSEReply

HELLO = [{"role": "user", "content": "Hello"}]
SOLO = {"model": "test/solo", "max_tokens": 16, "messages": HELLO}


def test_provider_keys_are_used_in_rotation(
    gateway: GatewayProcess, backup: ScriptedUpstream
) -> None:
    for _ in range(4):
        assert post(gateway, {**SOLO, "model": "test/keys"}).status_code == 200
    keys = [r.headers["authorization"].removeprefix("Bearer ") for r in backup.received]
    assert Counter(keys) == {ROTATING_KEYS[0]: 2, ROTATING_KEYS[1]: 2}
    assert keys[0] != keys[1]


def test_a_session_sticks_to_one_channel(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    sticky = {**SOLO, "model": "test/sticky"}
    channels = {
        session: {
            post(gateway, sticky, **{"x-claude-code-session-id": session}).headers[  # type: ignore[arg-type]
                "switchboard-channel"
            ]
            for _ in range(5)
        }
        for session in (f"session-{i}" for i in range(12))
    }
    assert all(len(seen) == 1 for seen in channels.values())  # each session stays put
    assert len(set.union(*channels.values())) == 2  # and sessions spread over both channels
    # metadata.user_id does the same for clients without the header.
    by_user = {
        post(gateway, {**sticky, "metadata": {"user_id": "user-7"}}).headers["switchboard-channel"]
        for _ in range(5)
    }
    assert len(by_user) == 1


def test_without_a_session_equal_channels_share_the_traffic(gateway: GatewayProcess) -> None:
    seen = Counter(
        post(gateway, {**SOLO, "model": "test/sticky"}).headers["switchboard-channel"]
        for _ in range(6)
    )
    assert seen == {"primary/p-model": 3, "backup/b-model": 3}


def test_admin_channels_needs_the_master_key(gateway: GatewayProcess) -> None:
    url = gateway.url + "/admin/channels"
    assert httpx.get(url, timeout=5).status_code == 401
    denied = httpx.get(url, headers={"x-api-key": CLIENT_KEY}, timeout=5)
    assert denied.status_code == 403
    assert denied.json()["error"]["type"] == "permission_error"
    resp = httpx.get(url, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=5)
    assert resp.status_code == 200
    rows = {(r["channel"], r["key"]): r for r in resp.json()["channels"]}
    assert rows[("primary/p-model", 0)]["state"] == "healthy"
    assert "test/pair" in rows[("primary/p-model", 0)]["models"]
    assert ("rotating/r-model", 1) in rows
    assert PRIMARY_KEY not in resp.text
    assert ROTATING_KEYS[1] not in resp.text


def _samples(gw: GatewayProcess) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = httpx.get(gw.url + "/metrics", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_metrics_count_requests_failovers_tokens_and_first_tokens(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    before = _samples(gateway)
    primary.enqueue(openai_error(500, "kaput"))
    assert post(gateway, {**SOLO, "model": "test/pair"}).status_code == 200
    primary.enqueue(openai_stream(["a", "b"], usage=(7, 2)))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={**SOLO, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
        timeout=10,
    ) as resp:
        resp.read()
    after = _samples(gateway)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert (
        grew(
            "switchboard_requests_total", model="test/pair", channel="backup/b-model", status="200"
        )
        == 1
    )
    assert grew("switchboard_failovers_total", model="test/pair") == 1
    assert grew("switchboard_time_to_first_token_seconds_count", model="test/solo") == 1
    assert grew("switchboard_tokens_total", model="test/solo", kind="output") == 2
    assert grew("switchboard_channel_failures_total", channel="primary/p-model") >= 1
    assert (
        _value(after, "switchboard_channel_state", channel="primary/p-model", state="healthy") == 1
    )
    assert _value(after, "switchboard_streams_in_flight") == 0


def test_a_client_that_leaves_a_non_streaming_request_cancels_the_upstream(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    primary.enqueue(HangReply(30))
    slow = {**SOLO, "model": "test/patient"}  # first_byte 3 s: the client leaves before
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        post(gateway, slow, timeout=0.5)
    assert primary.wait_closed(timeout=2)
    assert time.monotonic() - started < 2.5


def test_a_client_that_leaves_a_stream_cancels_the_upstream(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    reply = openai_stream(["a", "b", "c"])
    primary.enqueue(SSEReply(reply.frames, hang_after=2))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={**SOLO, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
    ) as resp:
        assert resp.status_code == 200
        next(resp.iter_raw())
        left = time.monotonic()
    # Well before the idle timeout (0.8 s) would have closed it anyway.
    assert primary.wait_closed(timeout=0.4)
    assert time.monotonic() - left < 0.4


def test_too_many_messages_or_tools_name_the_field(gateway: GatewayProcess) -> None:
    many = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}] * 5
    resp = post(gateway, {**SOLO, "messages": many})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("messages: at most 8")
    tool = {"name": "t", "input_schema": {"type": "object"}}
    resp = post(gateway, {**SOLO, "tools": [tool] * 5})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("tools: at most 4")
    resp = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "test/solo", "messages": many},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
        timeout=5,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "messages"


def test_a_body_that_arrives_too_slowly_is_408(gateway: GatewayProcess) -> None:
    assert gateway.port is not None
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"x-api-key: {CLIENT_KEY}\r\ncontent-length: 100\r\n\r\n".encode()
            + b'{"model":'
        )
        started = time.monotonic()
        reply = b""
        while chunk := sock.recv(65536):  # the gateway closes the connection after a 408
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b'"timeout_error"' in reply
    assert 0.8 < time.monotonic() - started < 3
