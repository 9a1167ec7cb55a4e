"""The floor relay: the least a Python Anthropic-to-OpenAI relay can do. Raw ASGI on uvicorn
(uvloop + httptools), one aiohttp session, orjson; no auth, no accounting, no validation, no
logging; text replies only. The request translation is the minimal complete one (system,
messages, tool_use and tool_result, tools), since every gateway must do that much.

    FLOOR_UPSTREAM=http://127.0.0.1:9100/v1 python -m bench.floor --port 9300
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import orjson
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or () if b.get("type") == "text")


def to_openai(req: dict[str, Any], model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = req.get("system")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    for m in req["messages"]:
        content = m["content"]
        if isinstance(content, str):
            messages.append({"role": m["role"], "content": content})
            continue
        text: list[str] = []
        calls: list[dict[str, Any]] = []
        for b in content:
            kind = b["type"]
            if kind == "text":
                text.append(b["text"])
            elif kind == "tool_use":
                calls.append(
                    {
                        "id": b["id"],
                        "type": "function",
                        "function": {
                            "name": b["name"],
                            "arguments": orjson.dumps(b["input"]).decode(),
                        },
                    }
                )
            elif kind == "tool_result":
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": b["tool_use_id"],
                        "content": _text(b["content"]),
                    }
                )
        if text or calls:
            out: dict[str, Any] = {"role": m["role"], "content": "".join(text)}
            if calls:
                out["tool_calls"] = calls
            messages.append(out)
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": req["max_tokens"],
        "stream": bool(req.get("stream")),
    }
    if body["stream"]:
        body["stream_options"] = {"include_usage": True}
    tools = req.get("tools")
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema", {}),
                },
            }
            for t in tools
        ]
    return body


def _usage(u: dict[str, Any] | None) -> dict[str, int]:
    u = u or {}
    return {
        "input_tokens": u.get("prompt_tokens", 0),
        "output_tokens": u.get("completion_tokens", 0),
    }


def _event(name: bytes, data: bytes) -> bytes:
    return b"event: " + name + b"\ndata: " + data + b"\n\n"


class Floor:
    def __init__(self, upstream: str, model: str) -> None:
        self.url = upstream.rstrip("/") + "/chat/completions"
        self.model = model
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.session = aiohttp.ClientSession(
                        connector=aiohttp.TCPConnector(limit=0),
                        timeout=aiohttp.ClientTimeout(total=None),
                    )
                    await send({"type": "lifespan.startup.complete"})
                else:
                    assert self.session is not None
                    await self.session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        req = orjson.loads(b"".join(chunks))
        body = orjson.dumps(to_openai(req, self.model))
        assert self.session is not None
        async with self.session.post(
            self.url, data=body, headers={"content-type": "application/json"}
        ) as resp:
            if req.get("stream"):
                await self._stream(req, resp, send)
                return
            data = orjson.loads(await resp.read())
        choice = data["choices"][0]
        reply = {
            "id": data.get("id", "msg_floor"),
            "type": "message",
            "role": "assistant",
            "model": req["model"],
            "content": [{"type": "text", "text": choice["message"].get("content") or ""}],
            "stop_reason": _STOP.get(choice.get("finish_reason"), "end_turn"),
            "stop_sequence": None,
            "usage": _usage(data.get("usage")),
        }
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": orjson.dumps(reply)})

    async def _stream(self, req: dict[str, Any], resp: aiohttp.ClientResponse, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_floor",
                "type": "message",
                "role": "assistant",
                "model": req["model"],
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        }
        await send(
            {
                "type": "http.response.body",
                "body": _event(b"message_start", orjson.dumps(start))
                + _event(
                    b"content_block_start",
                    b'{"type":"content_block_start","index":0,'
                    b'"content_block":{"type":"text","text":""}}',
                ),
                "more_body": True,
            }
        )
        finish = "stop"
        usage: dict[str, Any] | None = None
        buffer = b""
        async for piece in resp.content.iter_any():
            buffer += piece
            *lines, buffer = buffer.split(b"\n\n")
            out = []
            for line in lines:
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                c = orjson.loads(line[6:])
                if c.get("usage"):
                    usage = c["usage"]
                for choice in c.get("choices") or ():
                    text = choice["delta"].get("content")
                    if text:
                        out.append(
                            _event(
                                b"content_block_delta",
                                b'{"type":"content_block_delta","index":0,'
                                b'"delta":{"type":"text_delta","text":'
                                + orjson.dumps(text)
                                + b"}}",
                            )
                        )
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
        end = {
            "type": "message_delta",
            "delta": {"stop_reason": _STOP.get(finish, "end_turn"), "stop_sequence": None},
            "usage": _usage(usage),
        }
        await send(
            {
                "type": "http.response.body",
                "body": _event(b"content_block_stop", b'{"type":"content_block_stop","index":0}')
                + _event(b"message_delta", orjson.dumps(end))
                + _event(b"message_stop", b'{"type":"message_stop"}'),
            }
        )


app = Floor(
    os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:9100/v1"),
    os.environ.get("FLOOR_MODEL", "bench-upstream"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description="The floor relay.")
    parser.add_argument("--port", type=int, default=9300)
    args = parser.parse_args()
    uvicorn.run(
        "bench.floor:app",
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
