"""`switchboard serve --workers N`: N processes answer on one port, with the same config and the
same (generated once) master key, and stop together."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.support.gateway import GatewayProcess

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


@pytest.mark.skipif(not Path("/proc").exists(), reason="counts worker processes in /proc")
def test_two_workers_share_the_port_and_the_generated_master_key(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "switchboard.db"))
    workers: list[int] = []
    gateway = GatewayProcess(config, cwd=tmp_path, extra_args=["--workers", "2"])
    gateway.start()
    proc, port = gateway.proc, gateway.port
    assert port is not None
    try:
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
        gateway.stop(15)
    assert proc.returncode is not None
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
