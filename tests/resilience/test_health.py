"""A channel that keeps failing rests: requests skip it, the admin view says so, and after the
cooldown one probe brings it back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.resilience.conftest import CLIENT_KEY, MASTER_KEY
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_error

COOLDOWN = 1.0
BODY = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def pair() -> Iterator[tuple[ScriptedUpstream, ScriptedUpstream]]:
    with ScriptedUpstream() as a, ScriptedUpstream() as b:
        yield a, b


def _states(gw: GatewayProcess) -> dict[str, str]:
    resp = httpx.get(gw.url + "/admin/channels", headers={"x-api-key": MASTER_KEY}, timeout=5)
    return {row["channel"]: row["state"] for row in resp.json()["channels"]}


def test_a_failing_channel_cools_down_and_is_probed_back(
    pair: tuple[ScriptedUpstream, ScriptedUpstream],
) -> None:
    a, b = pair
    config = {
        "master_key": MASTER_KEY,
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "routing": {"health": {"failures": 2, "cooldown_seconds": COOLDOWN}},
        "providers": [
            {"name": "a", "kind": "openai", "base_url": a.openai_base},
            {"name": "b", "kind": "openai", "base_url": b.openai_base},
        ],
        "models": [
            {
                "id": "m",
                "channels": [
                    {"provider": "a", "model": "x"},
                    {"provider": "b", "model": "x", "priority": 1},
                ],
            }
        ],
    }
    with GatewayProcess(config) as gw:

        def ask() -> str:
            resp = httpx.post(
                gw.url + "/v1/messages", json=BODY, headers={"x-api-key": CLIENT_KEY}, timeout=5
            )
            assert resp.status_code == 200, resp.text
            return resp.headers["switchboard-channel"]

        a.enqueue(openai_error(500, "down"), openai_error(500, "down"))
        assert ask() == "b/x"
        assert _states(gw)["a/x"] == "healthy"  # one failure is not enough
        assert ask() == "b/x"
        assert _states(gw)["a/x"] == "cooldown"
        assert [ask() for _ in range(3)] == ["b/x"] * 3
        assert len(a.received) == 2  # resting: not even tried

        time.sleep(COOLDOWN + 0.1)
        assert _states(gw)["a/x"] == "half_open"
        assert ask() == "a/x"  # the probe succeeds...
        assert _states(gw)["a/x"] == "healthy"
        assert ask() == "a/x"  # ...and the channel is back
