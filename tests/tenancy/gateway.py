"""Run the gateway as users do: `python -m switchboard serve` in a subprocess on loopback, and
the `switchboard` CLI, both against one config file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


class Gateway:
    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "serve", "--config", str(config)]  # noqa: RUF005
            + ["--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.log_path = log
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited at start:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gateway did not answer /health in 30 s:\n{log.read_text()}")

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

    def stop(self) -> int:
        """SIGTERM, as a process manager would: the gateway flushes its ledger and exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        return self.proc.returncode
