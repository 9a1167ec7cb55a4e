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
    base_url: str | None,
    prompt: str,
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    stream_json: bool = False,
) -> ClaudeRun:
    """`base_url`: ANTHROPIC_BASE_URL (None: `env` names the gateway another way, as the
    Bedrock and Vertex modes' variables do). Every *_BASE_URL must be on loopback."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        **({"ANTHROPIC_BASE_URL": base_url} if base_url is not None else {}),
        "ANTHROPIC_AUTH_TOKEN": MASTER_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
        **(env or {}),
    }
    urls = [v for k, v in environment.items() if k.endswith("_BASE_URL")]
    assert urls, "no gateway URL for Claude Code"
    for url in urls:
        assert url.startswith("http://127.0.0.1:"), url  # never anywhere else
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


def write_file(claude: Path, tmp_path: Path, env: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    """Ask Claude Code (`env` naming the gateway) to create a file; the file's path and Claude
    Code's report, after asserting it succeeded in two turns (the agent upstreams' script)."""
    target = tmp_path / "work" / "hello.txt"
    prompt = f"Create the file SBFILE:{target} with a greeting."
    report = run_claude(claude, None, prompt, tmp_path, "--allowedTools", "Write", env=env).report
    assert report["subtype"] == "success"
    assert report["result"] == "I created the file."
    assert report["num_turns"] == 2
    assert report["usage"]["output_tokens"] > 0  # real usage reached Claude Code
    return target, report
