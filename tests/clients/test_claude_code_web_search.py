"""Real Claude Code doing a web search through the gateway on a model without server tools:
its WebSearch tool asks the gateway for a `web_search_20250305` server tool, which the gateway
runs on a loopback search engine (SearXNG's API) and loops with the scripted OpenAI-dialect
model until it answers; Claude Code gives the main loop the result."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients.conftest import MASTER_KEY
from tests.clients.headless import run_claude
from tests.servertools.scripted import (  # noqa: F401 - fixtures
    engine_fixture,
    upstream_fixture,
)
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream


def test_claude_code_web_search_answered_through_the_emulation(
    node_modules: Path, engine: ScriptedUpstream, upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    config = {
        "master_key": MASTER_KEY,
        "search": {"backend": "searxng", "url": engine.base_url + "/searxng"},
        "providers": [{"name": "up", "kind": "openai", "base_url": upstream.openai_base}],
        "models": [
            {
                "id": "open-model",
                "aliases": ["claude-*"],
                "context_window": 131072,
                "max_output_tokens": 16384,
                "channels": [{"provider": "up", "model": "m"}],
            }
        ],
    }
    home = tmp_path / "home"
    home.mkdir()
    with GatewayProcess(config) as gw:
        result = run_claude(
            node_modules,
            gw.url,
            "SBSEARCH: look up the switchboard gateway on the web.",
            cwd=tmp_path,
            home=home,
            allowed_tools="WebSearch",
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["subtype"] == "success", report
    # The main loop's answer names the page the emulated search found.
    assert report["result"] == "Answer from https://docs.example.org/gateway", report
    searched = [r for r in engine.received if r.path == "/searxng/search"]
    assert len(searched) == 1
    bodies = [r.json for r in upstream.received if isinstance(r.json, dict)]
    # The gateway offered the model a web_search function tool for Claude Code's server tool,
    # and gave it the results.
    emulated = [
        b for b in bodies if any(t["function"]["name"] == "web_search" for t in b.get("tools", []))
    ]
    assert len(emulated) == 2
    assert emulated[1]["messages"][-1]["role"] == "tool"
    assert "Switchboard routes every request." in emulated[1]["messages"][-1]["content"]
