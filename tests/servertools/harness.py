"""What the server tool tests share: the gateway's config (an OpenAI-dialect model that gets
the emulation, a relayed Anthropic one, and the guard lifted for loopback fetches), and the
request helpers, as an SDK and as raw HTTP."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

KEY = "sk-servertools-client-1"
SEARCH = {"type": "web_search_20250305", "name": "web_search"}
FETCH = {"type": "web_fetch_20250910", "name": "web_fetch"}


def config(
    upstream: ScriptedUpstream, search: dict[str, Any] | None, database: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "master_key": "sk-servertools-master",
        "database": database,
        "keys": [{"name": "ci", "key": KEY}],
        # The file server is on loopback: a test-only lift of the guard (docs: documents).
        "documents": {"fetch_urls": True, "allow_private_addresses": True},
        "providers": [
            {"name": "up", "kind": "openai", "base_url": upstream.openai_base},
            {"name": "ant", "kind": "anthropic", "base_url": upstream.anthropic_base},
        ],
        "models": [
            {
                "id": "claude-relayed",
                "pricing": {"input": 1.0, "output": 2.0},
                "channels": [{"provider": "ant", "model": "claude-up"}],
            },
            {
                "id": "open-model",
                "aliases": ["claude-*"],
                "pricing": {"input": 1.0, "output": 2.0},
                "channels": [{"provider": "up", "model": "m"}],
            },
        ],
    }
    if search is not None:
        out["search"] = search
    return out


def client(gw: GatewayProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0, timeout=20)


def ask(text: str, *tools: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": text}],
        "tools": list(tools),
    }
    if stream:
        body["stream"] = True
    return body


def post(gw: GatewayProcess, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/messages",
        json=body,
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        timeout=20,
    )
