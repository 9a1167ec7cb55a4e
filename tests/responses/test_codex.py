"""The real Codex CLI (`@openai/codex`, pinned) against the gateway's Responses surface, over a
scripted upstream of each dialect: `codex exec` asks for a shell command, the scripted model
calls Codex's `exec_command` tool, Codex runs it and sends the output back, and the model
answers with it.

Codex is sealed from the network: its only provider is the gateway on loopback; its update
check, analytics, web search, plugins, apps and model discovery are off in its config; and
every other connection would go to a loopback trap that forwards nothing (HTTPS_PROXY,
HTTP_PROXY and ALL_PROXY, with NO_PROXY for loopback only), which must see none."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import CACHE, npm_install
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import (
    Received,
    Reply,
    ScriptedUpstream,
    ToolUseBlock,
    anthropic_stream,
    openai_stream,
)
from tests.support.responses_stream import validate_responses_stream

from .conftest import ALICE, gateway_config
from .tap import Tap, Trap

pytestmark = pytest.mark.e2e

CODEX = "@openai/codex@0.171.0"
MARKER = "codex-marker-4242"
# Its output holds MARKER, its text does not: only a command that ran can put it in a reply.
COMMAND = "printf 'codex-%s-%s' marker 4242"


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    return npm_install(CACHE / "npm-codex", [CODEX]) / ".bin" / "codex"


def _tool_output(body: dict[str, Any]) -> str | None:
    """The shell output the model was sent back, in either dialect; None before the call."""
    for message in body.get("messages", []):
        if message.get("role") == "tool":
            return json.dumps(message.get("content"))
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    return json.dumps(block.get("content"))
    return None


def model(rec: Received) -> Reply:
    """A model that runs COMMAND through Codex's exec_command tool, then reports its output."""
    body = rec.json
    assert isinstance(body, dict)
    anthropic = rec.path.endswith("/messages")
    seen = _tool_output(body)
    if seen is None:
        args = json.dumps({"cmd": COMMAND})
        if anthropic:
            call = ToolUseBlock("exec_command", [args], id="toolu_codex_1")
            return anthropic_stream(["Running it."], tool_uses=[call], stop_reason="tool_use")
        delta = {
            "index": 0,
            "id": "call_codex_1",
            "type": "function",
            "function": {"name": "exec_command", "arguments": args},
        }
        return openai_stream([], tool_call_deltas=[delta], finish_reason="tool_calls")
    answer = f"The command printed {MARKER}." if MARKER in seen else "The command printed nothing."
    return anthropic_stream([answer]) if anthropic else openai_stream([answer])


@pytest.fixture(scope="module")
def codex_upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream(model) as up:
        yield up


@pytest.fixture(scope="module")
def codex_gateway(codex_upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    with GatewayProcess(gateway_config(codex_upstream, store=False)) as gw:
        yield gw


CONFIG = """
model = "{model}"
model_provider = "switchboard"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
web_search = "disabled"

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
plugin_sharing = false
apps = false
api_key_model_discovery = false
in_app_updates = false
multi_agent = false

[otel]
exporter = "none"

[model_providers.switchboard]
name = "Switchboard"
base_url = "{base_url}"
env_key = "SWITCHBOARD_API_KEY"
wire_api = "responses"
"""


@pytest.mark.parametrize("model_id", ["gpt-test", "claude-test"])
def test_codex_exec_runs_a_shell_command(
    codex_bin: Path,
    codex_gateway: GatewayProcess,
    codex_upstream: ScriptedUpstream,
    tmp_path: Path,
    model_id: str,
) -> None:
    codex_upstream.reset()
    home = tmp_path / "codex-home"
    home.mkdir()
    tap = Tap(codex_gateway.port or 0)
    (home / "config.toml").write_text(
        CONFIG.format(model=model_id, base_url=f"http://127.0.0.1:{tap.port}/v1")
    )
    work = tmp_path / "work"
    work.mkdir()
    trap = Trap()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "SWITCHBOARD_API_KEY": ALICE,
        # Anything but loopback goes to the trap, which forwards nothing.
        "HTTPS_PROXY": trap.url,
        "HTTP_PROXY": trap.url,
        "ALL_PROXY": trap.url,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    prompt = f"Run `{COMMAND}` and tell me what it printed."
    with tap, trap:
        result = subprocess.run(
            [str(codex_bin), "exec", "--skip-git-repo-check", prompt],
            env=env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # Sealed: with its plugins, apps, model discovery and updates off, Codex tried nothing else.
    assert trap.seen == []
    assert result.returncode == 0, result.stderr[-3000:] + codex_gateway.output()[-2000:]
    assert f"The command printed {MARKER}." in result.stdout
    received = codex_upstream.received
    assert len(received) == 2
    expected = "/v1/chat/completions" if model_id == "gpt-test" else "/v1/messages"
    assert {r.path for r in received} == {expected}
    # Codex read two streams (the tool call, the answer), each in the Responses grammar.
    assert len(tap.streams) == 2
    kinds = [[e["type"] for e in validate_responses_stream(s)] for s in tap.streams]
    assert "response.function_call_arguments.done" in kinds[0]
    assert "response.output_text.done" in kinds[1]
