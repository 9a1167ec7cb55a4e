"""A scripted upstream (OpenAI-compatible, and the Gemini API under /v1beta) that behaves like a
model driving an agent: asked with a `Write` tool, it calls it for the file named in the prompt
(`SBFILE:<path>`); given the tool's result, it answers in text. Other requests (titles,
summaries) get a short text. It records every request. A responder of the suite's
ScriptedUpstream (a real HTTP server on 127.0.0.1)."""

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


GEMINI_SIGNATURE = "Q2xhdWRlQ29kZVRocm91Z2hHZW1pbmk="


def decide_gemini(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The same agent as `decide`, in the Gemini API's terms: the reply's parts. The function
    call carries a thought signature, as Gemini 3's do."""
    contents = body.get("contents", [])
    tools = {d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])}
    last = contents[-1]["parts"] if contents else []
    if any("functionResponse" in p for p in last):
        return [{"text": "I created the file."}]
    target = None
    for c in contents:
        if c["role"] == "user":
            for part in c["parts"]:
                found = FILE_MARK.search(part.get("text", ""))
                target = found.group(1) if found else target
    if target and "Write" in tools:
        call = {"name": "Write", "args": {"file_path": target, "content": FILE_CONTENT}}
        return [
            {"text": "I'll write the file."},
            {"functionCall": call, "thoughtSignature": GEMINI_SIGNATURE},
        ]
    return [{"text": "ok"}]


def gemini_reply(request: Received, body: dict[str, Any]) -> Reply:
    """The reply to one Gemini API request (`:streamGenerateContent` streams)."""
    parts = decide_gemini(body)
    usage = {"promptTokenCount": 1200, "candidatesTokenCount": 25, "totalTokenCount": 1225}
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
    reply = {"candidates": [candidate], "usageMetadata": usage}
    if not request.path.endswith(":streamGenerateContent"):
        return JsonReply(reply)
    frames: list[str | bytes] = []
    for i, part in enumerate(parts):
        chunk: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [part]}}]}
        if i == len(parts) - 1:
            chunk = reply | {"candidates": [{**candidate, "content": {"parts": [part]}}]}
        frames.append(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n")
    return SSEReply(frames)


def agent_reply(request: Received) -> Reply:
    """The reply to one request, in OpenAI chat completions (streamed when asked), or in the
    Gemini API under /v1beta."""
    body: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
    if request.path.startswith("/v1beta/models/"):
        return gemini_reply(request, body)
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
            if (r.path == "/v1/chat/completions" or r.path.startswith("/v1beta/models/"))
            and isinstance(r.json, dict)
        ]

    def __enter__(self) -> AgentUpstream:
        self.upstream.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.upstream.stop()

    @property
    def base_url(self) -> str:
        return self.upstream.openai_base
