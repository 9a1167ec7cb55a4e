"""Replies built to cost the gateway memory, through the running gateway: the client gets a
clear error, and the gateway's peak memory barely moves."""

from __future__ import annotations

from pathlib import Path

from tests.resilience.conftest import MAX_ATTEMPTS, post
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.raw_http import MiB, gzip_bomb
from tests.support.replies import JsonReply


def peak_rss(pid: int) -> int:
    """The process's high-water resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def test_a_gzip_bomb_gets_a_502_and_is_not_inflated(
    gateway: GatewayProcess, primary: ScriptedUpstream
) -> None:
    bomb = gzip_bomb(1024)  # 1 MiB sent, 1 GiB inflated
    for _ in range(MAX_ATTEMPTS):
        primary.enqueue(JsonReply(bomb, headers={"content-encoding": "gzip"}))
    before = peak_rss(gateway.pid)
    resp = post(
        gateway,
        {
            "model": "test/solo",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "Hello"}],
        },
    )
    assert resp.status_code == 502, resp.text
    error = resp.json()["error"]
    assert error["type"] == "api_error"
    assert "larger than the 8192-byte limit" in error["message"]
    assert len(primary.received) == MAX_ATTEMPTS
    # Each attempt inflated the limit and a step (1 MiB), not what a read of the bomb holds
    # (256 KiB of it is 256 MiB).
    grown = peak_rss(gateway.pid) - before
    assert grown < 48 * MiB, f"the gateway's peak memory grew {grown / MiB:.0f} MiB"
