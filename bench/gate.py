"""The correctness gate: a reply must be a valid Anthropic message, or a valid Anthropic event
sequence, carrying what the upstream sent, with the upstream's real usage numbers."""

from __future__ import annotations

from typing import Any

import orjson

from bench import replies

STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}


def _usage_problems(usage: Any, where: str) -> list[str]:
    if not isinstance(usage, dict):
        return [f"{where}: no usage object"]
    out = []
    if usage.get("input_tokens") != replies.PROMPT_TOKENS:
        out.append(
            f"{where}: input_tokens {usage.get('input_tokens')!r}, "
            f"the upstream said {replies.PROMPT_TOKENS}"
        )
    if usage.get("output_tokens") != replies.COMPLETION_TOKENS:
        out.append(
            f"{where}: output_tokens {usage.get('output_tokens')!r}, "
            f"the upstream said {replies.COMPLETION_TOKENS}"
        )
    return out


def check_message(body: str, tools: bool) -> list[str]:
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(msg, dict):
        return ["not a JSON object"]
    problems = []
    for key, want in (("type", "message"), ("role", "assistant")):
        if msg.get(key) != want:
            problems.append(f"{key} is {msg.get(key)!r}, not {want!r}")
    if not isinstance(msg.get("id"), str):
        problems.append("no id")
    content = msg.get("content")
    if not isinstance(content, list):
        return [*problems, "content is not a list"]
    text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
    if text != replies.REPLY_TEXT:
        problems.append(f"text is {text[:80]!r}...")
    uses = [b for b in content if b.get("type") == "tool_use"]
    if tools:
        if len(uses) != 1:
            problems.append(f"{len(uses)} tool_use blocks, want 1")
        elif uses[0].get("name") != replies.TOOL_NAME or uses[0].get("input") != replies.TOOL_INPUT:
            problems.append(f"tool_use block differs: {str(uses[0])[:200]}")
        elif not isinstance(uses[0].get("id"), str):
            problems.append("tool_use without an id")
    want_stop = "tool_use" if tools else "end_turn"
    if msg.get("stop_reason") != want_stop:
        problems.append(f"stop_reason {msg.get('stop_reason')!r}, want {want_stop!r}")
    return problems + _usage_problems(msg.get("usage"), "usage")


def parse_sse(raw: str) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data or name:
            events.append((name, "\n".join(data)))
    return events


def check_stream(raw: str, script: replies.Script) -> list[str]:
    problems: list[str] = []
    events = []
    for name, data in parse_sse(raw):
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [f"event {name!r} has non-JSON data: {data[:120]!r}"]
        if not isinstance(payload, dict) or "type" not in payload:
            return [f"event {name!r} is not an object with a type: {data[:120]!r}"]
        if name is not None and name != payload["type"]:
            problems.append(f"event name {name!r} but data type {payload['type']!r}")
        if payload["type"] == "error":
            return [f"error event: {data[:300]}"]
        if payload["type"] != "ping":
            events.append(payload)
    if not events:
        return ["no events"]
    if events[0]["type"] != "message_start":
        problems.append(f"first event is {events[0]['type']!r}, not message_start")
        return problems
    start_usage = events[0].get("message", {}).get("usage", {})
    if events[-1]["type"] != "message_stop":
        problems.append(f"last event is {events[-1]['type']!r}, not message_stop")
    deltas = [e for e in events if e["type"] == "message_delta"]
    if len(deltas) != 1:
        return [*problems, f"{len(deltas)} message_delta events, want 1"]
    final = deltas[0]
    # Usage in message_delta is cumulative; input_tokens may come in either event.
    usage = {**start_usage, **{k: v for k, v in final.get("usage", {}).items() if v is not None}}
    problems += _usage_problems(usage, "stream usage")
    want_stop = "tool_use" if script.tool_deltas else "end_turn"
    if final.get("delta", {}).get("stop_reason") != want_stop:
        problems.append(f"stop_reason {final.get('delta', {}).get('stop_reason')!r}")
    # Blocks: indices 0..n-1, each started, its deltas, stopped, one at a time.
    open_index: int | None = None
    kinds: dict[int, str] = {}
    text: list[str] = []
    args: list[str] = []
    tool_names: list[str] = []
    for e in events[1:]:
        t = e["type"]
        if t == "content_block_start":
            if open_index is not None:
                problems.append(f"block {e.get('index')} started while {open_index} is open")
            i = e.get("index")
            if i != len(kinds):
                problems.append(f"block index {i}, want {len(kinds)}")
            block = e.get("content_block", {})
            kinds[i] = block.get("type")
            if block.get("type") == "tool_use":
                tool_names.append(block.get("name"))
                if not block.get("id"):
                    problems.append("tool_use block without an id")
            open_index = i
        elif t == "content_block_delta":
            if e.get("index") != open_index:
                problems.append(f"delta for block {e.get('index')} while {open_index} is open")
            d = e.get("delta", {})
            if d.get("type") == "text_delta":
                text.append(d.get("text", ""))
            elif d.get("type") == "input_json_delta":
                args.append(d.get("partial_json", ""))
            else:
                problems.append(f"unexpected delta type {d.get('type')!r}")
        elif t == "content_block_stop":
            if e.get("index") != open_index:
                problems.append(f"stop for block {e.get('index')} while {open_index} is open")
            open_index = None
        elif t in ("message_delta", "message_stop"):
            if open_index is not None:
                problems.append(f"{t} while block {open_index} is open")
        else:
            problems.append(f"unexpected event {t!r}")
    if "".join(text) != replies.expected_text(script):
        problems.append(f"streamed text is {''.join(text)[:80]!r}...")
    if script.tool_deltas:
        if tool_names != [replies.TOOL_NAME]:
            problems.append(f"tool blocks {tool_names}, want [{replies.TOOL_NAME!r}]")
        try:
            if orjson.loads("".join(args)) != replies.TOOL_INPUT:
                problems.append("tool input differs")
        except orjson.JSONDecodeError:
            problems.append(f"tool input is not JSON: {''.join(args)[:120]!r}")
    elif tool_names:
        problems.append(f"unexpected tool blocks {tool_names}")
    return problems
