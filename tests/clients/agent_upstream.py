"""A scripted OpenAI-compatible upstream that behaves like a model driving an agent: asked with a
`Write` tool, it calls it for the file named in the prompt (`SBFILE:<path>`); given the tool's
result, it answers in text. Other requests (titles, summaries) get a short text. It records
every request. A responder of the suite's ScriptedUpstream (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from tests.support.mock_upstream import JsonReply, Received, Reply, ScriptedUpstream, SSEReply

FILE_MARK = re.compile(r"SBFILE:(\S+)")
FILE_CONTENT = "hello from switchboard\n"


def _texts(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def decide(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(text, tool calls) for one request."""
    messages = body.get("messages", [])
    tools = {t["function"]["name"] for t in body.get("tools", []) if "function" in t}
    if messages and messages[-1].get("role") == "tool":
        return "I created the file.", []
    target = None
    for m in messages:
        if m.get("role") == "user":
            found = FILE_MARK.search(_texts(m))
            target = found.group(1) if found else target
    if target and "Write" in tools:
        args = orjson.dumps({"file_path": target, "content": FILE_CONTENT}).decode()
        call = {
            "id": "functions.Write:0",
            "type": "function",
            "function": {"name": "Write", "arguments": args},
        }
        return "I'll write the file.", [call]
    return "ok", []


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-agent",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "agent-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


def agent_reply(request: Received) -> Reply:
    """The reply to one request, in OpenAI chat completions (streamed when asked)."""
    body: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
    text, calls = decide(body)
    usage = {"prompt_tokens": 1200, "completion_tokens": 25, "total_tokens": 1225}
    finish = "tool_calls" if calls else "stop"
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = calls
        return JsonReply(
            {
                "id": "chatcmpl-agent",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "agent-model",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        )
    frames: list[str | bytes] = [_chunk({"role": "assistant", "content": text})]
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": "Write", "arguments": ""},
        }
        frames.append(_chunk({"tool_calls": [head]}))
        half = len(args) // 2
        for piece in (args[:half], args[half:]):
            frames.append(_chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    frames.append(_chunk({}, finish))
    frames.append(b"data: " + orjson.dumps({"choices": [], "usage": usage}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return SSEReply(frames)


class AgentUpstream:
    """The suite's ScriptedUpstream answering with agent_reply; `received` holds the bodies."""

    def __init__(self) -> None:
        self.upstream = ScriptedUpstream(responder=agent_reply)

    @property
    def received(self) -> list[dict[str, Any]]:
        return [
            r.json
            for r in self.upstream.received
            if r.path == "/v1/chat/completions" and isinstance(r.json, dict)
        ]

    def __enter__(self) -> AgentUpstream:
        self.upstream.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.upstream.stop()

    @property
    def base_url(self) -> str:
        return self.upstream.openai_base
