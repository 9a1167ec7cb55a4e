"""Claude Code run headless (`-p`, JSON output) and sealed: its environment holds only PATH, a
HOME of the test's own and the gateway (on loopback) as its API; no telemetry, updates or other
non-essential traffic."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.clients.conftest import MASTER_KEY


def run_claude(
    node_modules: Path,
    gateway_url: str,
    prompt: str,
    *,
    cwd: Path,
    home: Path,
    allowed_tools: str,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    assert gateway_url.startswith("http://127.0.0.1:")  # never anywhere else
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gateway_url + "/anthropic",
        "ANTHROPIC_AUTH_TOKEN": MASTER_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    return subprocess.run(
        [
            str(node_modules / ".bin" / "claude"),
            *("-p", prompt),
            *("--output-format", "json", "--allowedTools", allowed_tools),
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
