"""Run Claude Code headless (`claude -p`) against a gateway on loopback, sealed: an isolated HOME,
no inherited environment but PATH (so no host key or proxy reaches it), nonessential traffic,
telemetry and updates off, and a base URL that must be 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.clients.conftest import MASTER_KEY


@dataclass(frozen=True)
class ClaudeRun:
    report: dict[str, Any]  # the `--output-format json` result, or the stream's result line
    lines: list[dict[str, Any]]  # every line of `--output-format stream-json`
    home: Path


def run_claude(
    claude: Path,
    base_url: str,
    prompt: str,
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    stream_json: bool = False,
) -> ClaudeRun:
    assert base_url.startswith("http://127.0.0.1:")  # never anywhere else
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": MASTER_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
        **(env or {}),
    }
    output = (
        ["--output-format", "stream-json", "--verbose"]
        if stream_json
        else ["--output-format", "json"]
    )
    result = subprocess.run(
        [str(claude), "-p", prompt, *output, *args],
        env=environment,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    if not stream_json:
        return ClaudeRun(json.loads(result.stdout), [], home)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return ClaudeRun(next(x for x in lines if x.get("type") == "result"), lines, home)
