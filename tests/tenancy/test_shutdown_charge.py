"""A stream cut at shutdown (past `server.shutdown_grace_seconds`) is charged in the usage ledger
for what it delivered, as the limiter charges it: the row is written before the gateway exits."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_stream
from tests.support.replies import SSEReply

from .gateway import cli_json

KEY = "sk-client-shutdown-" + "c" * 12


def _stream(url: str, out: dict[str, Any]) -> None:
    body = {
        "model": "m",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "tell me a long story"}],
    }
    with httpx.stream(
        "POST", url + "/v1/messages", json=body, headers={"x-api-key": KEY}, timeout=15
    ) as resp:
        out["status"] = resp.status_code
        out["body"] = resp.read()


def test_a_stream_cut_at_shutdown_is_charged_for_what_it_delivered(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'sb.db'}"
    with ScriptedUpstream() as upstream:
        config = {
            "master_key": "sk-master-shutdown-" + "m" * 12,
            "database": database,
            "keys": [{"name": "ci", "key": KEY}],
            "server": {"shutdown_grace_seconds": 1},
            "providers": [{"name": "up", "kind": "openai", "base_url": upstream.openai_base}],
            "models": [
                {
                    "id": "m",
                    "channels": [{"provider": "up", "model": "u"}],
                    "pricing": {"input": 3.0, "output": 15.0},
                }
            ],
        }
        long = openai_stream(["never ", "ending ", "story ", "that ", "goes ", "on"])
        upstream.enqueue(SSEReply(long.frames, hang_after=4))
        gw = GatewayProcess(config).start()
        try:
            out: dict[str, Any] = {}
            client = threading.Thread(target=_stream, args=(gw.url, out))
            client.start()
            upstream.wait_for_requests(1)
            time.sleep(0.3)  # the first chunks are delivered
            assert gw._proc is not None
            gw._proc.terminate()  # SIGTERM
            client.join(10)
            gw._proc.wait(10)
        finally:
            gw.stop()
    assert out["status"] == 200
    assert b"overloaded_error" in out["body"]  # ended in the stream, past the grace period

    cli_config = tmp_path / "cli.yaml"
    cli_config.write_text(yaml.safe_dump({"database": database, "master_key": "sk-any-master-key"}))
    rows = cli_json(cli_config, "usage", "--key", "config:ci")
    assert len(rows) == 1
    row = rows[0]
    assert row["error_type"] == "overloaded_error"
    assert row["output_tokens"] > 0
    assert row["cost_usd"] > 0
