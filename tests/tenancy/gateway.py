"""Run the gateway as users do: `python -m switchboard serve` in a subprocess on loopback, and
the `switchboard` CLI, both against one config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support.gateway import GatewayProcess, free_port

__all__ = ["MASTER", "PRICING", "Gateway", "cli", "cli_json", "free_port", "write_config"]

MASTER = "sk-sb-master-" + "t" * 24
PRICING = {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}


def write_config(path: Path, database: str, **extra: Any) -> Path:
    config = {
        "master_key": MASTER,
        "database": database,
        "key_cache_seconds": 60,  # long, so tests show revocation does not wait for it
        "providers": [{"name": "demo", "kind": "scripted"}],
        "models": [
            {
                "id": "demo",
                "channels": [{"provider": "demo", "model": "demo"}],
                "pricing": PRICING,
            },
            {"id": "other", "channels": [{"provider": "demo", "model": "demo"}]},
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli_json(config: Path, *args: str) -> Any:
    done = cli(config, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Gateway(GatewayProcess):
    """The shared launcher, started at once, on a config file the CLI reads too; the output
    goes to `log`. Its data directory is the test session's, as the CLI's is."""

    def __init__(self, config: Path, log: Path) -> None:
        super().__init__(
            config, log_path=log, env={"SWITCHBOARD_HOME": os.environ["SWITCHBOARD_HOME"]}
        )
        self.start(timeout=30)

    def admin(self, method: str, path: str, body: Any = None, key: str = MASTER) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"x-api-key": key}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return err.code, json.loads(err.read())

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, as a process manager would: the gateway flushes its ledger and exits."""
        return super().stop(timeout)
