"""SIGTERM mid-stream: the gateway stops accepting, lets a short stream finish, ends a long one
with `event: error` once the grace period is over, and exits."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.resilience.conftest import CLIENT_KEY, MASTER_KEY
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_stream
from tests.support.replies import SSEReply
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

GRACE = 1


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


def _config(up: ScriptedUpstream) -> dict[str, Any]:
    return {
        "master_key": MASTER_KEY,
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "server": {"shutdown_grace_seconds": GRACE},
        "providers": [{"name": "up", "kind": "openai", "base_url": up.openai_base}],
        "models": [{"id": "m", "channels": [{"provider": "up", "model": "u"}]}],
    }


def _stream(url: str, out: dict[str, Any], key: str) -> None:
    body = {
        "model": "m",
        "max_tokens": 16,
        "stream": True,
        "messages": [{"role": "user", "content": key}],
    }
    with httpx.stream(
        "POST", url + "/v1/messages", json=body, headers={"x-api-key": CLIENT_KEY}, timeout=15
    ) as resp:
        out[key] = (resp.status_code, resp.read())


def test_sigterm_finishes_short_streams_and_ends_long_ones(upstream: ScriptedUpstream) -> None:
    short = openai_stream(["one ", "two ", "three"], delay=0.15)
    long = openai_stream(["never ", "ending ", "story"])
    upstream.enqueue(short)
    gw = GatewayProcess(_config(upstream)).start()
    try:
        results: dict[str, Any] = {}
        first = threading.Thread(target=_stream, args=(gw.url, results, "short"))
        first.start()
        upstream.wait_for_requests(1)
        upstream.enqueue(SSEReply(long.frames, hang_after=2))
        second = threading.Thread(target=_stream, args=(gw.url, results, "long"))
        second.start()
        upstream.wait_for_requests(2)
        time.sleep(0.1)  # both streams have sent their first bytes

        started = time.monotonic()
        assert gw._proc is not None
        gw._proc.terminate()  # SIGTERM
        time.sleep(0.2)
        with pytest.raises(httpx.TransportError):  # no longer accepting
            httpx.get(gw.url + "/health", timeout=2)
        first.join(10)
        second.join(10)
        code = gw._proc.wait(10)
        took = time.monotonic() - started
    finally:
        gw.stop()

    # uvicorn re-raises the signal once shut down, as daemons do: killed by SIGTERM, cleanly.
    assert code in (0, -signal.SIGTERM)
    assert took < GRACE + 3
    status, raw = results["short"]
    assert status == 200
    validate_anthropic_stream(raw)
    assert accumulate_message(raw)["content"][0]["text"] == "one two three"
    status, raw = results["long"]
    assert status == 200
    events = validate_anthropic_stream(raw)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "overloaded_error"
    assert "shutting down" in events[-1]["error"]["message"]
