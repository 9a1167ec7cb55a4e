"""A scripted upstream (OpenAI-compatible, and the Gemini API under /v1beta) that behaves like a
model driving an agent: asked with a
`Write` tool, it calls it for the file named in the prompt (`SBFILE:<path>`); given the tool's
result, it answers in text. Other requests (titles, summaries) get a short text. It records
every request. A real HTTP server on 127.0.0.1, run in a thread."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

import orjson
from aiohttp import web

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


class AgentUpstream:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self.port = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        text, calls = decide(body)
        usage = {"prompt_tokens": 1200, "completion_tokens": 25, "total_tokens": 1225}
        finish = "tool_calls" if calls else "stop"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                message["tool_calls"] = calls
            reply = {
                "id": "chatcmpl-agent",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": "agent-model",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
            return web.json_response(reply)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_chunk({"role": "assistant", "content": text}))
        for i, call in enumerate(calls):
            args = call["function"]["arguments"]
            head = {
                "index": i,
                "id": call["id"],
                "type": "function",
                "function": {"name": "Write", "arguments": ""},
            }
            await resp.write(_chunk({"tool_calls": [head]}))
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                await resp.write(
                    _chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                )
        await resp.write(_chunk({}, finish))
        await resp.write(b"data: " + orjson.dumps({"choices": [], "usage": usage}) + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def _handle_gemini(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        parts = decide_gemini(body)
        usage = {"promptTokenCount": 1200, "candidatesTokenCount": 25, "totalTokenCount": 1225}
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
        reply = {"candidates": [candidate], "usageMetadata": usage}
        if not request.path.endswith(":streamGenerateContent"):
            return web.json_response(reply)
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for i, part in enumerate(parts):
            chunk: dict[str, Any] = {
                "candidates": [{"content": {"role": "model", "parts": [part]}}]
            }
            if i == len(parts) - 1:
                chunk = reply | {"candidates": [{**candidate, "content": {"parts": [part]}}]}
            await resp.write(b"data: " + orjson.dumps(chunk) + b"\r\n\r\n")
        return resp

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1beta/models/{method}", self._handle_gemini)
        self._runner = web.AppRunner(app)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def __enter__(self) -> AgentUpstream:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
