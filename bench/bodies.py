"""Anthropic /v1/messages request bodies of three sizes, deterministic:

- `1k`: a short system prompt and one user turn (~1 KB);
- `15k`: a longer system prompt, 5 tools and 6 turns (~15 KB);
- `90k`: Claude-Code-like: a long system prompt, 20 tools with JSON schemas, 40 turns of
  tool_use and tool_result (~90 KB).

The last user turn carries the upstream's script marker (see replies.py)."""

from __future__ import annotations

import random
from typing import Any

import orjson

from bench.replies import marker

SIZES = ("1k", "15k", "90k")

_WORDS = " ".join(
    (
        "the gateway relays every request to the upstream and returns usage with the reply while",
        "streams carry deltas tool calls arguments schema file path line function module test",
        "error config provider model token cache limit key ledger route channel retry budget",
        "latency core",
    )
).split()


def _text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    n = 0
    while n < size:
        word = rng.choice(_WORDS)
        out.append(word)
        n += len(word) + 1
    return " ".join(out)


def _tool(rng: random.Random, i: int) -> dict[str, Any]:
    props = {
        f"param_{j}": {"type": "string" if j % 3 else "integer", "description": _text(rng, 90)}
        for j in range(6)
    }
    return {
        "name": f"Tool{i:02d}",
        "description": _text(rng, 600),
        "input_schema": {
            "type": "object",
            "properties": props,
            "required": ["param_0", "param_1"],
            "additionalProperties": False,
            "$schema": "http://json-schema.org/draft-07/schema#",
        },
    }


def _turns(rng: random.Random, pairs: int, result_size: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for i in range(pairs):
        tool_id = f"toolu_{i:04d}{rng.randrange(10**12):012d}"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": _text(rng, 120)},
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": f"Tool{i % 20:02d}",
                        "input": {"param_0": _text(rng, 60), "param_1": i},
                    },
                ],
            }
        )
        result: Any = _text(rng, result_size)
        if i % 4 == 3:
            result = [{"type": "text", "text": result}]
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result}],
            }
        )
    return messages


def body(size: str, model: str, *, stream: bool = False, script: str = "text") -> bytes:
    rng = random.Random(size)
    request: dict[str, Any] = {"model": model, "max_tokens": 1024}
    ask = f"{_text(rng, 200)} {marker(script)}"
    if size == "1k":
        request["system"] = _text(rng, 680)
        request["messages"] = [{"role": "user", "content": ask}]
    elif size == "15k":
        request["system"] = [{"type": "text", "text": _text(rng, 2500)}]
        request["tools"] = [_tool(rng, i) for i in range(5)]
        request["messages"] = [
            {"role": "user", "content": _text(rng, 300)},
            *_turns(rng, 6, 400),
            {"role": "user", "content": [{"type": "text", "text": ask}]},
        ]
    elif size == "90k":
        request["system"] = [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": _text(rng, 14000), "cache_control": {"type": "ephemeral"}},
        ]
        request["tools"] = [_tool(rng, i) for i in range(20)]
        request["metadata"] = {"user_id": "user_bench_account__session_0000"}
        request["messages"] = [
            {"role": "user", "content": [{"type": "text", "text": _text(rng, 1500)}]},
            *_turns(rng, 20, 1450),
            {"role": "user", "content": [{"type": "text", "text": ask}]},
        ]
        request["messages"][-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    else:
        raise ValueError(f"unknown size {size!r} (one of {', '.join(SIZES)})")
    if stream:
        request["stream"] = True
    return orjson.dumps(request)


if __name__ == "__main__":
    for s in SIZES:
        print(s, len(body(s, "bench-model")))
