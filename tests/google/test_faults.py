"""The fault cases on Gemini and Vertex upstreams: a 429 with Google's retry delay, 5xx and
failover, a reset mid-stream, a hang."""

from __future__ import annotations

import time

from tests.google.helpers import body, post, stream
from tests.support.gateway import GatewayProcess
from tests.support.gemini_wire import gemini_error, gemini_response, gemini_stream
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.replies import DropReply, HangReply
from tests.support.stream_validator import validate_anthropic_stream


def test_resource_exhausted_is_a_429_with_its_retry_delay(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_delay="42s"))
    started = time.monotonic()
    resp = post(gateway, body("gemini-2.5-flash"))
    assert resp.status_code == 429
    assert resp.json()["type"] == "error"
    assert resp.json()["error"]["type"] == "rate_limit_error"
    assert "RESOURCE_EXHAUSTED: Quota exceeded" in resp.json()["error"]["message"]
    assert resp.headers["retry-after"] == "42"
    assert time.monotonic() - started < 2  # beyond the retry budget: passed on at once
    assert len(upstream.received) == 1


def test_a_short_retry_delay_is_waited_and_retried(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(
        gemini_error(429, "RESOURCE_EXHAUSTED", "slow down", retry_delay="0.5s"),
        gemini_response("after the wait"),
    )
    started = time.monotonic()
    resp = post(gateway, body("gemini-2.5-flash"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "after the wait"
    assert time.monotonic() - started >= 0.45
    assert len(upstream.received) == 2


def test_invalid_argument_is_the_clients_400(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_error(400, "INVALID_ARGUMENT", "Invalid value at 'contents'"))
    resp = post(gateway, body("test/gemini-pair"))
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "INVALID_ARGUMENT" in resp.json()["error"]["message"]


def test_a_5xx_fails_over_to_the_other_channel(
    gateway: GatewayProcess, upstream: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_error(503, "UNAVAILABLE", "The model is overloaded."))
    backup.enqueue(gemini_response("from the backup"))
    resp = post(gateway, body("test/gemini-pair"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "from the backup"
    assert resp.headers["switchboard-channel"] == "gem-backup/gemini-2.5-flash"


def test_a_dropped_connection_before_the_stream_fails_over(
    gateway: GatewayProcess, upstream: ScriptedUpstream, backup: ScriptedUpstream
) -> None:
    upstream.enqueue(DropReply())
    backup.enqueue(gemini_stream([[{"text": "saved"}]]))
    resp, raw = stream(gateway, body("test/gemini-pair"))
    assert resp.status_code == 200
    events = validate_anthropic_stream(raw)
    assert events[-1]["type"] == "message_stop"


def test_a_reset_mid_stream_ends_in_an_error_event(gateway: GatewayProcess) -> None:
    resp, raw = stream(gateway, body("test/gemini-reset"))
    assert resp.status_code == 200
    events = validate_anthropic_stream(raw)
    assert any(e["type"] == "content_block_delta" for e in events)
    assert events[-1]["type"] == "error"
    assert "could not reach" in events[-1]["error"]["message"]


def test_a_hang_is_a_timeout(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(HangReply(4), HangReply(4), HangReply(4))
    started = time.monotonic()
    resp = post(gateway, body("gemini-2.5-flash"))
    assert resp.status_code == 504
    assert resp.json()["error"]["type"] == "timeout_error"
    assert time.monotonic() - started < 4.5


def test_vertex_quota_429_keeps_its_retry_delay(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_delay="30s"))
    resp = post(gateway, body("vertex/claude"))
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "30"
