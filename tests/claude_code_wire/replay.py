"""Replays the recorded Claude Code session (tests/data/claude_code_session.json) through a
gateway, as Claude Code sent it (the same bodies and `anthropic-beta`, streamed), and reads the
usage the gateway reported for each turn: input tokens, and how many of them the upstream
served from its prompt cache. Used by test_prompt_cache.py and scripts/replay-claude-code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

RECORDING = Path(__file__).parents[1] / "data" / "claude_code_session.json"


def turns() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(RECORDING.read_text())
    recorded: list[dict[str, Any]] = data["turns"]
    return recorded


@dataclass(frozen=True)
class TurnUsage:
    input_tokens: int  # all of the prompt: uncached + cache reads
    cached_tokens: int
    dropped: str  # the switchboard-dropped header

    @property
    def cached_share(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0


def _usage(stream: str) -> dict[str, int]:
    """The usage of an Anthropic event stream: message_start's, updated by message_delta's."""
    usage: dict[str, int] = {}
    for line in stream.splitlines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        if event.get("type") == "message_start":
            usage.update(event["message"].get("usage") or {})
        elif event.get("type") == "message_delta":
            usage.update(event.get("usage") or {})
    return usage


def replay(base_url: str, key: str) -> list[TurnUsage]:
    """Each recorded turn sent to `base_url` (the gateway's Anthropic surface), in order."""
    out = []
    with httpx.Client(base_url=base_url, timeout=60, trust_env=False) as client:
        for turn in turns():
            headers = {
                "authorization": f"Bearer {key}",
                "anthropic-version": "2023-06-01",
                "anthropic-beta": turn["anthropic_beta"],
            }
            resp = client.post("/v1/messages?beta=true", json=turn["body"], headers=headers)
            assert resp.status_code == 200, resp.text
            usage = _usage(resp.text)
            cached = usage.get("cache_read_input_tokens") or 0
            total = usage["input_tokens"] + cached + (usage.get("cache_creation_input_tokens") or 0)
            out.append(TurnUsage(total, cached, resp.headers.get("switchboard-dropped", "")))
    return out


def table(usages: list[TurnUsage]) -> str:
    lines = ["turn  input_tokens  cached_tokens  cached"]
    for i, u in enumerate(usages, 1):
        lines.append(f"{i:>4}  {u.input_tokens:>12}  {u.cached_tokens:>13}  {u.cached_share:>6.0%}")
    total = sum(u.input_tokens for u in usages)
    cached = sum(u.cached_tokens for u in usages)
    lines.append(f" all  {total:>12}  {cached:>13}  {cached / total:>6.0%}")
    return "\n".join(lines)
