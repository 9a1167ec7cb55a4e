"""Claude Code itself (the npm release, headless, sealed) through the gateway: out of the box with
no config, model discovery for its `/model` picker, a subagent round trip, a thinking turn and a
long session that compacts, with the gateway routing Claude Code's model names (routes.py) to a
scripted upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients.agent_upstream import (
    COMPACT_ASK,
    FILE_CONTENT,
    LONG_MARK,
    REASONING,
    SUBAGENT_ANSWER,
    SUMMARY,
    THOUGHT_ANSWER,
    AgentUpstream,
)
from tests.clients.claude_run import run_claude
from tests.clients.conftest import MASTER_KEY
from tests.support.gateway import GatewayProcess

DISCOVERY_NAME = "claude-agent"


@pytest.fixture(scope="module")
def routed_gateway(agent_upstream: AgentUpstream) -> Iterator[GatewayProcess]:
    """A model with no Claude name, reached through routes and published for discovery."""
    config = {
        "master_key": MASTER_KEY,
        "providers": [
            {"name": "agent", "kind": "openai", "base_url": agent_upstream.base_url, "api_key": "k"}
        ],
        "models": [
            {
                "id": "agent/thinker",
                "discovery_name": DISCOVERY_NAME,
                "context_window": 1_048_576,
                "max_output_tokens": 16384,
                "capabilities": {"vision": True, "tools": True, "thinking": True},
                "reasoning": {"control": "thinking", "echo": True},
                "channels": [{"provider": "agent", "model": "kimi-k2.6"}],
            }
        ],
        "routes": [
            {"match": {"model": "claude-sonnet-5-5"}, "to": "agent/thinker"},
            {"match": {"model": "claude-*"}, "to": "agent/thinker"},
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw


def test_claude_code_answers_with_no_config_at_all(claude: Path, tmp_path: Path) -> None:
    # No config, no provider in the environment: the embedded default routes Claude Code's
    # model (claude-opus-5-5 in 2.1.330) to the offline demo model instead of a 404.
    env = {"SWITCHBOARD_HOME": str(tmp_path / "data"), "SWITCHBOARD_MASTER_KEY": MASTER_KEY}
    with GatewayProcess(None, env=env, inherit_env=False) as gw:
        report = run_claude(claude, gw.url + "/anthropic", "Say hello.", tmp_path).report
    assert report["subtype"] == "success", report
    assert report["is_error"] is False
    assert report["result"].startswith("Hello from the Switchboard demo model.")


def test_model_discovery_lists_the_published_claude_names(
    claude: Path, routed_gateway: GatewayProcess, tmp_path: Path
) -> None:
    # Claude Code 2.1.330, with discovery on, asks `GET {base}/v1/models?limit=1000` with
    # `Authorization: Bearer`, `anthropic-version: 2023-06-01` and its user agent, keeps the ids
    # containing `claude` or `anthropic`, and caches them for its /model picker.
    base = routed_gateway.url + "/anthropic"
    run = run_claude(
        claude,
        base,
        "Say hello.",
        tmp_path,
        env={"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"},
    )
    assert run.report["subtype"] == "success"
    cache = json.loads((run.home / ".claude" / "cache" / "gateway-models.json").read_text())
    assert cache["baseUrl"] == base
    assert [m["id"] for m in cache["models"]] == [
        DISCOVERY_NAME,
        DISCOVERY_NAME + "[1m]",  # its window is 1M: the 1M-context variant is offered
        "claude-sonnet-5-5",  # a literal route name
        "claude-sonnet-5-5[1m]",
    ]
    log = routed_gateway.output()
    assert "/anthropic/v1/models" in log


def _upstream_bodies(agent_upstream: AgentUpstream, before: int) -> list[dict[str, Any]]:
    return agent_upstream.received[before:]


def spoken(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A translated conversation without its system messages (Claude Code adds notes)."""
    return [m for m in body["messages"] if m["role"] != "system"]


def test_claude_code_subagent_round_trip(
    claude: Path, routed_gateway: GatewayProcess, agent_upstream: AgentUpstream, tmp_path: Path
) -> None:
    target = tmp_path / "work" / "delegated.txt"
    before = len(agent_upstream.received)
    report = run_claude(
        claude,
        routed_gateway.url + "/anthropic",
        f"Delegate this: SBAGENT:{target}",
        tmp_path,
        *("--allowedTools", "Agent,Write"),
    ).report
    assert report["subtype"] == "success", report
    assert report["result"] == SUBAGENT_ANSWER
    assert target.read_text() == FILE_CONTENT  # written by the subagent's Write call
    bodies = _upstream_bodies(agent_upstream, before)
    # The subagent's own conversation went upstream: its prompt, its Write call and result.
    sub = [
        spoken(b)
        for b in bodies
        if f"SBFILE:{target}" in json.dumps(spoken(b)[:1]) and spoken(b)[-1]["role"] == "tool"
    ]
    assert sub, [spoken(b)[-1] for b in bodies]
    assert sub[-1][-1]["tool_call_id"] == "functions.Write:0"
    # The parent got the Agent tool's result back, under the id the upstream gave the call.
    final = spoken(bodies[-1])
    assert final[-2]["tool_calls"][0]["function"]["name"] == "Agent"
    assert final[-1]["tool_call_id"] == "functions.Agent:0"


def test_claude_code_thinking_turn(
    claude: Path, routed_gateway: GatewayProcess, agent_upstream: AgentUpstream, tmp_path: Path
) -> None:
    before = len(agent_upstream.received)
    run = run_claude(
        claude,
        routed_gateway.url + "/anthropic",
        "SBTHINK: think first, then answer.",
        tmp_path,
        stream_json=True,
    )
    assert run.report["subtype"] == "success", run.report
    assert run.report["result"] == THOUGHT_ANSWER
    # Claude Code asked for (adaptive) thinking: the upstream was told to think, in its terms.
    asked = [b for b in _upstream_bodies(agent_upstream, before) if "SBTHINK" in json.dumps(b)]
    assert asked
    assert asked[-1]["thinking"] == {"type": "enabled"}
    # The upstream's reasoning reached Claude Code as a thinking block before the answer.
    blocks = [
        block
        for line in run.lines
        if line.get("type") == "assistant"
        for block in line["message"]["content"]
    ]
    kinds = [b["type"] for b in blocks]
    assert "thinking" in kinds, kinds
    assert kinds.index("thinking") < kinds.index("text")
    thinking = next(b for b in blocks if b["type"] == "thinking")
    assert thinking["thinking"] in (REASONING, "")  # Claude Code may ask for it omitted
    assert thinking["signature"]


def test_claude_code_long_session_compacts(
    claude: Path, routed_gateway: GatewayProcess, agent_upstream: AgentUpstream, tmp_path: Path
) -> None:
    # A session continued with `-c` whose upstream reports a prompt near the auto-compact
    # threshold (95k of a 100k window): before its third turn Claude Code 2.1.330 compacts on
    # its own, asking the model (through the gateway) for a summary of the earlier turns.
    base = routed_gateway.url + "/anthropic"
    env = {"CLAUDE_CODE_AUTO_COMPACT_WINDOW": "100000"}
    before = len(agent_upstream.received)
    runs = [
        run_claude(claude, base, f"{LONG_MARK} turn {n}.", tmp_path, *go, env=env, stream_json=True)
        for n, go in ((1, ()), (2, ("-c",)), (3, ("-c",)))  # -c: continue the last session
    ]
    assert [r.report["subtype"] for r in runs] == ["success"] * 3, runs[-1].report
    boundaries = [x for x in runs[2].lines if x.get("subtype") == "compact_boundary"]
    assert boundaries, runs[2].lines
    assert boundaries[0]["compact_metadata"]["trigger"] == "auto"
    assert not any(x.get("subtype") == "compact_boundary" for r in runs[:2] for x in r.lines)
    bodies = _upstream_bodies(agent_upstream, before)
    # The gateway served the summarization request: the earlier turns, then the ask.
    asks = [b for b in bodies if COMPACT_ASK in json.dumps(spoken(b)[-1])]
    assert len(asks) == 1, [spoken(b)[-1] for b in bodies]
    assert f"{LONG_MARK} turn 1." in json.dumps(spoken(asks[0])[:-1])
    # The third turn went upstream with the summary instead of the first turn.
    third = [b for b in bodies if f"{LONG_MARK} turn 3." in json.dumps(b)]
    assert third, [spoken(b)[-1] for b in bodies]
    history = json.dumps(third[0]["messages"])
    assert SUMMARY in history
    assert f"{LONG_MARK} turn 1." not in history
    assert COMPACT_ASK not in history
