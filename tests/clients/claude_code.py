"""Running the real Claude Code non-interactively in a sealed home: its report, for the tests of
tool round trips (it writes the file named in the prompt, through the agent upstreams)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

# Nothing but the gateway: no telemetry, no update checks, one retry.
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_MAX_RETRIES": "1",
}


def write_file(node_modules: Path, tmp_path: Path, env: dict[str, str]) -> tuple[Path, Any]:
    """Ask Claude Code (with `env` on top of a sealed home) to create a file; the file's path
    and Claude Code's JSON report, after asserting it succeeded in two turns."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    target = work / "hello.txt"
    result = subprocess.run(
        [
            str(node_modules / ".bin" / "claude"),
            *("-p", f"Create the file SBFILE:{target} with a greeting."),
            *("--output-format", "json", "--allowedTools", "Write"),
        ],
        env={"PATH": os.environ["PATH"], "HOME": str(home), **QUIET, **env},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["subtype"] == "success"
    assert report["result"] == "I created the file."
    assert report["num_turns"] == 2
    assert report["usage"]["output_tokens"] > 0  # real usage reached Claude Code
    return target, report
