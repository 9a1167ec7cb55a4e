"""A client that walks away mid-stream: the upstream request is cancelled at once, and the
ledger charges what was generated until then, marked as a client disconnect."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import MASTER_KEY
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_completion, openai_stream


def admin(gw: GatewayProcess, method: str, path: str, body: Any = None) -> Any:
    resp = httpx.request(
        method, gw.url + path, json=body, headers={"x-api-key": MASTER_KEY}, timeout=10
    )
    assert resp.status_code < 300, resp.text
    return resp.json()


def test_cut_stream_cancels_upstream_and_is_charged_for_what_was_generated(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    made = admin(gateway, "POST", "/admin/keys", {"name": "cutter"})
    pieces = ["0123456789abcdef"] * 40  # 16 characters a chunk: ~4 tokens each
    upstream.enqueue(openai_stream(pieces, delay=0.05))
    body = {
        "model": "moonshotai/kimi-k2-instruct",
        "max_tokens": 500,
        "stream": True,
        "messages": [{"role": "user", "content": "count"}],
    }
    received = 0
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json=body,
        headers={"x-api-key": made["key"]},
        timeout=10,
    ) as resp:
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data:") and "text_delta" in line:
                received += 1
                if received == 5:
                    break  # walk away: the connection closes with the context
    # The gateway cancelled the upstream request: the mock saw its client go.
    assert upstream.wait_closed(timeout=5)

    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not rows:
        rows = admin(gateway, "GET", f"/admin/usage?key={made['id']}")["data"]
        time.sleep(0.1)
    (row,) = rows
    assert row["client_disconnected"] is True
    assert row["status"] == 200
    # Charged for what was generated before the cut (about 4 tokens a chunk), not for all 40
    # chunks and not for nothing.
    assert 4 * received <= row["output_tokens"] < 4 * 20
    expected = (row["input_tokens"] * 1.0 + row["output_tokens"] * 2.0) / 1e6
    assert row["cost_usd"] == pytest.approx(expected)
    assert row["cost_usd"] > 0


def test_the_ledger_records_failovers(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    made = admin(gateway, "POST", "/admin/keys", {"name": "failing-over"})
    upstream.enqueue(openai_completion("from backup"))
    resp = httpx.post(
        gateway.url + "/v1/messages",
        json={
            "model": "test/failover",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "x"}],
        },
        headers={"x-api-key": made["key"]},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["switchboard-channel"] == "up/backup-model"
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not rows:
        rows = admin(gateway, "GET", f"/admin/usage?key={made['id']}")["data"]
        time.sleep(0.1)
    (row,) = rows
    assert (row["failovers"], row["channel"], row["status"]) == (1, "up/backup-model", 200)
