"""`switchboard serve --workers N`: N processes answer on one port, with the same config and the
same (generated once) master key, and stop together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.gateway import free_port

pytestmark = pytest.mark.e2e

CONFIG = """\
database: sqlite:///{db}
providers:
  - {{name: demo, kind: scripted}}
models:
  - {{id: demo, channels: [{{provider: demo, model: echo}}]}}
"""

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _ask(port: int, key: str, text: str) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/messages",
        data=json.dumps(
            {"model": "demo", "max_tokens": 50, "messages": [{"role": "user", "content": text}]}
        ).encode(),
        headers={"x-api-key": key, "content-type": "application/json"},
    )
    with _OPENER.open(request, timeout=10) as resp:
        reply: dict[str, object] = json.load(resp)
        return reply


def _wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve --workers exited early"
        try:
            with _OPENER.open(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve --workers never became healthy")


@pytest.mark.skipif(not Path("/proc").exists(), reason="counts worker processes in /proc")
def test_two_workers_share_the_port_and_the_generated_master_key(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "switchboard.db"))
    port = free_port()
    serve = ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    workers: list[int] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard", *serve, "--workers", "2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_healthy(port, proc)
        workers = [
            pid
            for pid in _children(proc.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        # Generated once by the parent, read by both workers: every request is accepted.
        key = (tmp_path / "switchboard.master_key").read_text().strip()
        for i in range(12):  # a new connection each time, so both workers take some
            reply = _ask(port, key, f"hello {i}")
            assert reply["type"] == "message"
            assert f"hello {i}" in json.dumps(reply["content"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert proc.returncode is not None
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
