"""A scripted upstream (OpenAI-compatible, and the Gemini API under /v1beta) that behaves like a
model driving an agent: asked with a `Write` tool, it calls it for the file named in the prompt
(`SBFILE:<path>`); asked with an `Agent` tool to delegate (`SBAGENT:<path>`), it starts a
subagent whose prompt names the file; asked to think (`SBTHINK`), it reasons before answering
(`reasoning_content`, as DeepSeek and Kimi stream it); given a tool's result, it answers in text;
asked to compact the conversation, it writes a summary (`SUMMARY`); in a session marked
`SBLONG` it reports a prompt near Claude Code's auto-compact threshold. Other requests (titles)
get a short text. It records every request. A responder of
the suite's ScriptedUpstream (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from tests.support.mock_upstream import JsonReply, Received, Reply, ScriptedUpstream, SSEReply

FILE_MARK = re.compile(r"SBFILE:(\S+)")
AGENT_MARK = re.compile(r"SBAGENT:(\S+)")
THINK_MARK = "SBTHINK"
FILE_CONTENT = "hello from switchboard\n"
REASONING = "The user asked me to think first; I have."
THOUGHT_ANSWER = "I thought it through."
SUBAGENT_ANSWER = "The subagent created the file."
LONG_MARK = "SBLONG"
# A prompt this large fills most of a 100k-token window (CLAUDE_CODE_AUTO_COMPACT_WINDOW's
# minimum): Claude Code compacts before its next request.
LONG_PROMPT_TOKENS = 95_000
# Claude Code 2.1.330's summarization request starts its last user message with this.
COMPACT_ASK = "CRITICAL: Respond with TEXT ONLY"
SUMMARY = "SBSUMMARY: the user asked me to count turns; I answered each."


def _texts(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    arguments = orjson.dumps(args).decode()
    return {
        "id": f"functions.{name}:0",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _marked(messages: list[dict[str, Any]], mark: re.Pattern[str]) -> str | None:
    """What the last user message carrying `mark` names."""
    target = None
    for m in messages:
        if m.get("role") == "user":
            found = mark.search(_texts(m))
            target = found.group(1) if found else target
    return target


def decide(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(text, tool calls) for one request."""
    messages = body.get("messages", [])
    tools = {t["function"]["name"] for t in body.get("tools", []) if "function" in t}
    # Claude Code may end a turn with system notes (a subagent's list of agent types): the
    # conversation's last word is its last non-system message.
    spoken = [m for m in messages if m.get("role") != "system"]
    if spoken and spoken[-1].get("role") == "user" and COMPACT_ASK in _texts(spoken[-1]):
        # The form the summarization prompt asks for; Claude Code keeps the <summary> part.
        return f"<analysis>Two short turns.</analysis>\n<summary>{SUMMARY}</summary>", []
    if spoken and spoken[-1].get("role") == "tool":
        if str(spoken[-1].get("tool_call_id", "")).startswith("functions.Agent"):
            return SUBAGENT_ANSWER, []
        return "I created the file.", []
    target = _marked(messages, FILE_MARK)
    if target and "Write" in tools:
        return "I'll write the file.", [
            _call("Write", {"file_path": target, "content": FILE_CONTENT})
        ]
    delegated = _marked(messages, AGENT_MARK)
    if delegated and "Agent" in tools:
        task = {
            "description": "Write the greeting file",
            "prompt": f"Create the file SBFILE:{delegated} with a greeting.",
            "subagent_type": "general-purpose",
            "run_in_background": False,
        }
        return "I'll ask a subagent.", [_call("Agent", task)]
    return "ok", []


def thinks(body: dict[str, Any]) -> bool:
    """Whether this request asks the agent to reason first (its last user turn says SBTHINK)."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return bool(users) and THINK_MARK in _texts(users[-1])


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
    reasoning = REASONING if thinks(body) and not calls else None
    if reasoning:
        text = THOUGHT_ANSWER
    prompt = LONG_PROMPT_TOKENS if LONG_MARK in orjson.dumps(body).decode() else 1200
    usage = {"prompt_tokens": prompt, "completion_tokens": 25, "total_tokens": prompt + 25}
    finish = "tool_calls" if calls else "stop"
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if reasoning:
            message["reasoning_content"] = reasoning
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
    frames: list[str | bytes] = []
    if reasoning:
        frames.append(_chunk({"role": "assistant", "reasoning_content": reasoning}))
    frames.append(_chunk({"role": "assistant", "content": text}))
    for i, call in enumerate(calls):
        args = call["function"]["arguments"]
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
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
