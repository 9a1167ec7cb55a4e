"""Records real Claude Code sessions as test data:
`python -m tests.claude_code_wire.record_session [NODE_MODULES]` (Claude Code 2.1.330 installed
with npm, by default where tests/clients/conftest.py installs it). Claude Code runs headless and
sealed (its base URL is a loopback Anthropic-dialect upstream scripted here as the model, no
other traffic) through a multi-step task: it loads deferred tools with ToolSearch, reads, runs
commands, edits and writes files, answers; then a second prompt continues the session. Every
main-loop request body is kept, in order, with the `anthropic-beta` header, and written to
tests/data/claude_code_session.json with machine-specific values (paths, ids, OS) replaced by
fixed ones, the same way in every turn, so the recording's prefixes stay what Claude Code sent."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.mock_upstream import (
    Received,
    Reply,
    ScriptedUpstream,
    ToolUseBlock,
    anthropic_stream,
)

VERSION = "2.1.330"
OUT = Path(__file__).parents[1] / "data" / "claude_code_session.json"
WORK = "/home/user/project"  # what the recording says instead of the temporary directory


def _steps(work: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(text, tool, input) per agent step of the first prompt; then a final answer."""
    notes = f"{work}/notes.txt"
    return [
        (
            "Let me load the tools I may need.",
            "ToolSearch",
            {"query": "select:WebFetch,NotebookEdit", "max_results": 5},
        ),
        ("Reading the notes first.", "Read", {"file_path": notes}),
        (
            "Checking the directory.",
            "Bash",
            {"command": "ls -la", "description": "List the project files"},
        ),
        (
            "Adding the line.",
            "Edit",
            {"file_path": notes, "old_string": "beta", "new_string": "beta\ngamma"},
        ),
        (
            "Counting the lines.",
            "Bash",
            {"command": "wc -l notes.txt", "description": "Count the lines of notes.txt"},
        ),
        (
            "Writing the summary.",
            "Write",
            {"file_path": f"{work}/summary.txt", "content": "notes.txt has 3 lines\n"},
        ),
    ]


# The prompts of the recorded sessions, in order: a task, its continuation (`-c`, the same
# session), then two new sessions in the same project, as a developer runs them in a row.
PROMPTS = [
    "Add a line 'gamma' after 'beta' in notes.txt, count its lines and write the count to "
    "summary.txt.",
    "Now append 'done' to summary.txt.",
    "What is in summary.txt?",
    "List the text files here.",
]


def _model(work: str) -> Any:
    scripts: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        PROMPTS[0]: _steps(work),
        PROMPTS[1]: [
            ("Reading the summary.", "Read", {"file_path": f"{work}/summary.txt"}),
            (
                "Appending to it.",
                "Bash",
                {"command": "echo done >> summary.txt", "description": "Append to the summary"},
            ),
        ],
        PROMPTS[2]: [("Reading it.", "Read", {"file_path": f"{work}/summary.txt"})],
        PROMPTS[3]: [
            ("Listing them.", "Bash", {"command": "ls *.txt", "description": "List the text files"})
        ],
    }

    def reply(request: Received) -> Reply:
        body = request.json if isinstance(request.json, dict) else {}
        messages = body.get("messages", [])
        prompts = [m for m in messages if m["role"] == "user" and not _is_tool_results(m)]
        last = json.dumps(prompts[-1]["content"]) if prompts else ""
        script = next((v for k, v in scripts.items() if json.dumps(k)[1:-1] in last), [])
        # Steps of the current prompt: assistant turns since its last user prompt.
        done = 0
        for m in reversed(messages):
            if m["role"] == "user" and not _is_tool_results(m):
                break
            done += m["role"] == "assistant"
        if not body.get("tools") or done >= len(script):
            return anthropic_stream(["Done."], usage=(2000, 12))
        text, tool, args = script[done]
        use = ToolUseBlock(tool, ["", json.dumps(args)], id=f"toolu_rec_{len(prompts)}_{done}")
        return anthropic_stream([text], stop_reason="tool_use", usage=(2000, 30), tool_uses=[use])

    return reply


def _is_tool_results(message: dict[str, Any]) -> bool:
    content = message["content"]
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)


def _claude(node_modules: Path, home: Path, work: Path, base: str, *args: str) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base,
        "ANTHROPIC_AUTH_TOKEN": "recording",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    tools = "ToolSearch,Read,Edit,Write,Bash"
    result = subprocess.run(
        [
            str(node_modules / ".bin" / "claude"),
            *args,
            "--output-format",
            "json",
            "--allowedTools",
            tools,
        ],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stdout[-3000:] + result.stderr[-3000:])


def _scrub(text: str, work: Path, home: Path) -> str:
    text = text.replace(str(work), WORK).replace(str(home), "/home/user")
    text = text.replace(platform.release(), "6.8.0")
    text = re.sub(
        r'\\"device_id\\":\\"[0-9a-f]+\\"', r'\\"device_id\\":\\"' + "0" * 64 + r'\\"', text
    )
    return re.sub(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "00000000-0000-4000-8000-000000000000",
        text,
    )


def record(node_modules: Path) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        (work / "notes.txt").write_text("alpha\nbeta\n")
        with ScriptedUpstream(responder=_model(str(work))) as up:
            assert up.base_url.startswith("http://127.0.0.1:")
            _claude(node_modules, home, work, up.base_url, "-p", PROMPTS[0])
            _claude(node_modules, home, work, up.base_url, "-c", "-p", PROMPTS[1])
            for prompt in PROMPTS[2:]:
                _claude(node_modules, home, work, up.base_url, "-p", prompt)
            turns = []
            for r in up.received:
                body = r.json
                if r.path != "/v1/messages" or not isinstance(body, dict):
                    continue
                if not body.get("tools"):
                    continue  # titles and summaries: not the agent loop
                turn = {"anthropic_beta": r.headers.get("anthropic-beta", ""), "body": body}
                turns.append(json.loads(_scrub(json.dumps(turn), work, home)))
        return turns


def main() -> None:
    from tests.clients.conftest import CACHE

    node_modules = Path(sys.argv[1]) if len(sys.argv) > 1 else CACHE / "npm" / "node_modules"
    turns = record(node_modules)
    OUT.write_text(json.dumps({"claude_code": VERSION, "turns": turns}, indent=1) + "\n")
    print(f"{len(turns)} turns -> {OUT}")


if __name__ == "__main__":
    main()
