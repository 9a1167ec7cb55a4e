"""Fault injection: each upstream failure, what the client sees, and whether the request went to
the other channel. Failover and retries happen only before the first byte, and never for a
request the upstream refused as the client's mistake."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.resilience.conftest import CLIENT_KEY, MAX_ATTEMPTS, post, stream
from tests.support.anthropic_wire import anthropic_error, anthropic_message, anthropic_stream
from tests.support.envelope import assert_envelope
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_completion, openai_error, openai_stream
from tests.support.replies import DropReply, HangReply, JsonReply, Reply, SSEReply
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

HELLO = [{"role": "user", "content": "Hello"}]


def body(model: str) -> dict[str, Any]:
    return {"model": model, "max_tokens": 16, "messages": HELLO}


# Each fault before the first byte, and what a client of a one-channel model finally sees.
FAULTS: dict[str, tuple[Reply, int, str]] = {
    "429": (
        openai_error(429, "slow down", headers={"retry-after": "0"}),
        429,
        "rate_limit_error",
    ),
    "500": (openai_error(500, "kaput", type_="server_error"), 502, "api_error"),
    "503": (openai_error(503, "busy"), 529, "overloaded_error"),
    "529": (openai_error(529, "overloaded"), 529, "overloaded_error"),
    "reset": (DropReply(), 502, "api_error"),
    "hang": (HangReply(3), 504, "timeout_error"),
    "malformed-json": (JsonReply("{not json"), 502, "api_error"),
    "wrong-content-type": (
        JsonReply("<html>upstream proxy</html>", content_type="text/html"),
        502,
        "api_error",
    ),
    "oversized": (openai_completion("x" * 20_000), 502, "api_error"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_fails_over_to_the_other_channel(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream, fault: str
) -> None:
    primary.enqueue(FAULTS[fault][0])
    backup.enqueue(openai_completion("from the backup"))
    resp = post(gateway, body("test/pair"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "from the backup"
    assert resp.headers["switchboard-channel"] == "backup/b-model"
    assert len(primary.received) == 1
    assert len(backup.received) == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_on_the_only_channel_is_retried_then_mapped(
    gateway: GatewayProcess, primary: ScriptedUpstream, fault: str
) -> None:
    reply, status, error_type = FAULTS[fault]
    primary.enqueue(*[reply] * MAX_ATTEMPTS)
    resp = post(gateway, body("test/solo"))
    assert_envelope(resp, status, error_type)
    assert len(primary.received) == MAX_ATTEMPTS  # retried, and no more than the budget


@pytest.mark.parametrize("fault", ["500", "503", "reset", "hang", "wrong-content-type"])
def test_stream_fault_before_the_first_byte_fails_over(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream, fault: str
) -> None:
    reply = FAULTS[fault][0]
    if fault == "wrong-content-type":  # JSON where an event stream was asked for
        reply = openai_completion("not a stream")
    primary.enqueue(reply)
    backup.enqueue(openai_stream(["from ", "backup"]))
    resp, raw = stream(gateway, body("test/pair"))
    assert resp.status_code == 200
    assert resp.headers["switchboard-channel"] == "backup/b-model"
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["content"][0]["text"] == "from backup"


def test_malformed_sse_before_the_first_byte_fails_over(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    primary.enqueue(SSEReply(["data: {garbage\n\n"]))
    resp, raw = stream(gateway, body("test/pair"))
    assert resp.status_code == 200
    assert resp.headers["switchboard-channel"] == "backup/b-model"
    validate_anthropic_stream(raw)
    assert len(backup.received) == 1


def test_a_fault_in_the_same_read_as_the_first_events_still_fails_over(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    """Events are relayed a read at a time: a fault that arrives with the first events comes
    before the client has seen a byte, so another channel can still give a whole answer."""
    reply = openai_stream(["partial ", "answer ", "here"], usage=None, done=False)
    first_read = "".join(str(f) for f in reply.frames[:2]) + "data: {garbage\n\n"
    primary.enqueue(SSEReply([first_read]))  # one frame: one write
    resp, raw = stream(gateway, body("test/pair"))
    assert resp.status_code == 200
    assert resp.headers["switchboard-channel"] == "backup/b-model"
    validate_anthropic_stream(raw)
    assert len(backup.received) == 1


def _cut(reply: SSEReply, keep: int, *extra: str) -> SSEReply:
    # Frames 50 ms apart: the fault comes after the client has had the first events.
    return SSEReply([*reply.frames[:keep], *extra], delay=0.05)


@pytest.mark.parametrize(
    ("fault", "error_type", "message"),
    [
        ("reset-mid-stream", "api_error", "ended before"),
        ("hang-mid-stream", "timeout_error", "idle"),
        ("malformed-sse-mid-stream", "api_error", "cannot read"),
    ],
)
def test_fault_after_the_first_byte_ends_the_stream_with_an_error_event(
    gateway: GatewayProcess,
    primary: ScriptedUpstream,
    backup: ScriptedUpstream,
    fault: str,
    error_type: str,
    message: str,
) -> None:
    reply = openai_stream(["partial ", "answer ", "here"], usage=None, done=False)
    primary.enqueue(
        {
            "reset-mid-stream": _cut(reply, 2),
            "hang-mid-stream": SSEReply(reply.frames, hang_after=2, delay=0.05),
            "malformed-sse-mid-stream": _cut(reply, 2, "data: {garbage\n\n"),
        }[fault]
    )
    resp, raw = stream(gateway, body("test/pair"))
    assert resp.status_code == 200
    events = validate_anthropic_stream(raw)
    assert any(e["type"] == "content_block_delta" for e in events)  # the client got a part
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == error_type
    assert message in events[-1]["error"]["message"]
    assert backup.received == []  # no failover after the first byte


def test_a_4xx_the_client_caused_is_not_retried(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    primary.enqueue(openai_error(400, "context too long"))
    resp = post(gateway, body("test/pair"))
    assert_envelope(resp, 400, "invalid_request_error")
    assert "context too long" in resp.json()["error"]["message"]
    assert len(primary.received) == 1
    assert backup.received == []


def test_connection_refused_fails_over(gateway: GatewayProcess, backup: ScriptedUpstream) -> None:
    resp = post(gateway, body("test/refused"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["switchboard-channel"] == "backup/b-model"


def test_back_off_honours_retry_after(gateway: GatewayProcess, primary: ScriptedUpstream) -> None:
    primary.enqueue(openai_error(429, "slow down", headers={"retry-after": "1"}))
    started = time.monotonic()
    resp = post(gateway, body("test/solo"))
    assert resp.status_code == 200, resp.text
    assert time.monotonic() - started >= 0.95
    assert len(primary.received) == 2


def test_a_retry_after_beyond_the_budget_is_passed_on_at_once(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    primary.enqueue(openai_error(429, "slow down", headers={"retry-after": "60"}))
    started = time.monotonic()
    resp = post(gateway, body("test/solo"))
    assert_envelope(resp, 429, "rate_limit_error")
    assert resp.headers["retry-after"] == "60"
    assert time.monotonic() - started < 1
    assert len(primary.received) == 1


def test_idle_timeout_does_not_cut_a_slow_first_byte(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    primary.enqueue(HangReply(1.0))  # longer than idle (0.3), shorter than first_byte (3)
    resp = post(gateway, body("test/patient"))
    assert resp.status_code == 200, resp.text
    assert len(primary.received) == 1


def test_total_timeout_bounds_a_non_streaming_call(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    primary.enqueue(*[HangReply(2)] * MAX_ATTEMPTS)
    started = time.monotonic()
    resp = post(gateway, body("test/brief"))
    assert_envelope(resp, 504, "timeout_error")
    assert time.monotonic() - started < MAX_ATTEMPTS * 1.5


def test_openai_clients_get_the_error_chunk_after_the_first_byte(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    reply = openai_stream(["partial ", "answer"], usage=None, done=False)
    primary.enqueue(SSEReply(reply.frames, hang_after=2))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        json={"model": "test/pair", "stream": True, "messages": HELLO},
        headers={"authorization": "Bearer " + CLIENT_KEY},
        timeout=10,
    ) as resp:
        assert resp.status_code == 200
        raw = resp.read().decode()
    chunks = [line.removeprefix("data: ") for line in raw.splitlines() if line.startswith("data:")]
    assert '"partial "' in raw
    error = json.loads(next(c for c in chunks if '"error"' in c))["error"]
    assert (error["type"], error["code"]) == ("server_error", "timeout")  # OpenAI's words
    assert "idle" in error["message"]


def test_openai_clients_get_504_for_a_first_byte_timeout(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    primary.enqueue(*[HangReply(3)] * MAX_ATTEMPTS)
    resp = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "test/solo", "stream": True, "messages": HELLO},
        headers={"authorization": "Bearer " + CLIENT_KEY},
        timeout=10,
    )
    assert resp.status_code == 504
    error = resp.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "timeout")


def test_a_connect_timeout_fails_over(gateway: GatewayProcess, backup: ScriptedUpstream) -> None:
    started = time.monotonic()
    resp = post(gateway, body("test/blackhole"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["switchboard-channel"] == "backup/b-model"
    assert time.monotonic() - started < 2  # the connect timeout (0.5 s), not first_byte (5 s)


def test_a_connection_reset_mid_stream_ends_in_an_error_event(
    gateway: GatewayProcess, backup: ScriptedUpstream
) -> None:
    resp, raw = stream(gateway, body("test/reset"))
    assert resp.status_code == 200
    events = validate_anthropic_stream(raw)
    assert any(e["type"] == "content_block_delta" for e in events)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error"
    assert "could not reach" in events[-1]["error"]["message"]  # a reset, not a clean end
    assert backup.received == []


ANTHROPIC_FAULTS: dict[str, Reply] = {
    "529": anthropic_error(529, "overloaded_error", "Overloaded"),
    "429": anthropic_error(429, "rate_limit_error", "slow", headers={"retry-after": "0"}),
    "reset": DropReply(),
    "hang": HangReply(3),
    "oversized": anthropic_message("x" * 20_000),
    "malformed-json": JsonReply("{not json"),
}


@pytest.mark.parametrize("fault", ANTHROPIC_FAULTS)
def test_relayed_fault_fails_over_to_the_other_channel(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream, fault: str
) -> None:
    primary.enqueue(ANTHROPIC_FAULTS[fault])
    backup.enqueue(anthropic_message("from the backup"))
    resp = post(gateway, body("test/ant-pair"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "from the backup"
    assert resp.json()["model"] == "test/ant-pair"
    assert resp.headers["switchboard-channel"] == "ant-backup/b-claude"


def test_relayed_stream_hanging_mid_way_ends_in_an_error_event(
    gateway: GatewayProcess, primary: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    reply = anthropic_stream(["partial ", "answer"])
    primary.enqueue(SSEReply(reply.frames, hang_after=4))
    resp, raw = stream(gateway, body("test/ant-pair"))
    assert resp.status_code == 200
    events = validate_anthropic_stream(raw)
    assert any(e["type"] == "content_block_delta" for e in events)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "timeout_error"
    assert backup.received == []
