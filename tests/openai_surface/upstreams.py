"""Scripted upstreams (the suite's ScriptedUpstream, on 127.0.0.1): one speaks OpenAI chat
completions, one Anthropic Messages, one the Gemini API, one Claude on Vertex AI and one AWS
Bedrock (bedrock_replies.py: InvokeModel and Converse, behind a SigV4 check). All play
the same `Script` (text, reasoning, tool calls, stop reason, usage, or an error), each in its own
wire format, and record what they received, so one scenario table runs against every upstream
dialect."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from tests.support.bedrock_upstream import BedrockServer
from tests.support.mock_upstream import JsonReply, Reply, ScriptedUpstream, SSEReply
from tests.support.mock_upstream import Received as UpstreamReceived

from .bedrock_replies import bedrock_reply

Stop = Literal["end", "length", "tool", "stop_sequence", "refusal"]
VERTEX_TOKEN = "ya29.scenario-vertex-token"


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    pieces: tuple[str, ...]  # the arguments JSON, streamed in these pieces


@dataclass(frozen=True)
class Script:
    text: tuple[str, ...] = ("Hel", "lo")
    reasoning: str | None = None
    calls: tuple[Call, ...] = ()
    stop: Stop = "end"
    usage: tuple[int, int] = (10, 2)
    error: tuple[int, str] | None = None  # (status, message): an HTTP error reply
    retry_after: str | None = None
    fail_mid_stream: bool = False  # send the first text piece, then an in-stream error


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedServer:
    """The suite's ScriptedUpstream, answering in one dialect with the next queued `Script`
    (the default one when none is)."""

    # vertex: Claude on Vertex AI (rawPredict), Anthropic's wire at Google's URLs. bedrock: AWS
    # Bedrock (Claude through InvokeModel, other models through Converse), SigV4 checked.
    def __init__(self, kind: Literal["openai", "anthropic", "gemini", "vertex", "bedrock"]) -> None:
        self.kind = kind
        self.scripts: deque[Script] = deque()
        self.upstream: ScriptedUpstream = (
            BedrockServer(responder=self._respond)
            if kind == "bedrock"
            else ScriptedUpstream(responder=self._respond)
        )

    @property
    def port(self) -> int:
        return self.upstream.port

    @property
    def received(self) -> list[Received]:
        return [
            Received(r.path, r.headers, r.json if isinstance(r.json, dict) else {})
            for r in self.upstream.received
            if r.path != "/token"  # Vertex's OAuth token endpoint, not a model call
        ]

    def reset(self) -> None:
        self.scripts.clear()
        self.upstream.reset()

    def play(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    @property
    def last(self) -> dict[str, Any]:
        return self.received[-1].body

    def _respond(self, request: UpstreamReceived) -> Reply:
        if self.kind == "vertex" and request.path == "/token":
            return self._token()
        body = request.json if isinstance(request.json, dict) else {}
        script = self.scripts.popleft() if self.scripts else Script()
        if self.kind == "bedrock":
            return bedrock_reply(script, request.path)
        if script.error is not None:
            status, message = script.error
            headers = {"retry-after": script.retry_after} if script.retry_after else {}
            if self.kind == "gemini":  # Google says when to retry in the body, not a header
                return JsonReply(_gemini_error(script), status=status)
            return JsonReply(self._error(message), status=status, headers=headers)
        if self.kind == "gemini":
            if not request.path.endswith(":streamGenerateContent"):
                return JsonReply(_gemini_whole(script))
            delay = 0.02 if script.fail_mid_stream else 0.0
            return SSEReply(list[str | bytes](_gemini_frames(script)), delay=delay)
        if not body.get("stream"):
            return JsonReply(self._whole(script, body))
        # Apart in time, so an error comes after the client has had the first piece (the
        # gateway relays a read at a time).
        delay = 0.02 if script.fail_mid_stream else 0.0
        frames: list[str | bytes] = list(self._frames(script, body))
        return SSEReply(frames, delay=delay)

    @staticmethod
    def _token() -> JsonReply:
        """Vertex's OAuth token endpoint, as google-auth calls it."""
        return JsonReply({"access_token": VERTEX_TOKEN, "expires_in": 3600, "token_type": "Bearer"})

    def _error(self, message: str) -> dict[str, Any]:
        if self.kind == "openai":
            return {"error": {"message": message, "type": "x", "param": None, "code": None}}
        return {"type": "error", "error": {"type": "api_error", "message": message}}

    def _whole(self, s: Script, body: dict[str, Any]) -> dict[str, Any]:
        return _openai_whole(s) if self.kind == "openai" else _anthropic_whole(s)

    def _frames(self, s: Script, body: dict[str, Any]) -> list[str]:
        if self.kind == "openai":
            options = body.get("stream_options") or {}
            return _openai_frames(s, bool(options.get("include_usage")))
        return _anthropic_frames(s)


# OpenAI chat completions

_OPENAI_FINISH = {
    "end": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "tool": "tool_calls",
    "refusal": "content_filter",
}


def _openai_usage(s: Script) -> dict[str, Any]:
    prompt, completion = s.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _openai_whole(s: Script) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(s.text) or None}
    if s.reasoning:
        message["reasoning_content"] = s.reasoning
    if s.calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": "".join(c.pieces)},
            }
            for c in s.calls
        ]
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model-snapshot",
        "choices": [{"index": 0, "message": message, "finish_reason": _OPENAI_FINISH[s.stop]}],
        "usage": _openai_usage(s),
        "system_fingerprint": "fp_up",
    }


def _data(obj: Any) -> str:
    return f"data: {json.dumps(obj)}\n\n"


def _openai_frames(s: Script, include_usage: bool) -> list[str]:
    head = {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-model-snapshot",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        out: dict[str, Any] = {
            **head,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return _data(out)

    frames = [chunk({"role": "assistant", "content": ""})]
    if s.reasoning:
        frames.append(chunk({"reasoning_content": s.reasoning}))
    for piece in s.text:
        frames.append(chunk({"content": piece}))
        if s.fail_mid_stream:
            return [*frames, _data({"error": {"message": "upstream blew up", "code": 500}})]
    for n, c in enumerate(s.calls):
        first = {"index": n, "id": c.id, "type": "function", "function": {"name": c.name}}
        frames.append(chunk({"tool_calls": [{**first, "function": {"name": c.name}}]}))
        for piece in c.pieces:
            frames.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": piece}}]}))
    frames.append(chunk({}, _OPENAI_FINISH[s.stop]))
    if include_usage:
        frames.append(_data({**head, "choices": [], "usage": _openai_usage(s)}))
    frames.append("data: [DONE]\n\n")
    return frames


# Anthropic Messages

_ANTHROPIC_STOP = {
    "end": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool": "tool_use",
    "refusal": "refusal",
}


def _anthropic_blocks(s: Script) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if s.reasoning:
        blocks.append({"type": "thinking", "thinking": s.reasoning, "signature": "sig_up"})
    if s.text:
        blocks.append({"type": "text", "text": "".join(s.text)})
    for c in s.calls:
        args = json.loads("".join(c.pieces) or "{}")
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": args})
    return blocks


def _anthropic_whole(s: Script) -> dict[str, Any]:
    return {
        "id": "msg_upstream",
        "type": "message",
        "role": "assistant",
        "model": "upstream-claude-snapshot",
        "content": _anthropic_blocks(s),
        "stop_reason": _ANTHROPIC_STOP[s.stop],
        "stop_sequence": None,
        "usage": {
            "input_tokens": s.usage[0],
            "output_tokens": s.usage[1],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _event(obj: dict[str, Any]) -> str:
    return f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n"


def _anthropic_frames(s: Script) -> list[str]:
    return [_event(e) for e in anthropic_events(s)]


def anthropic_events(s: Script) -> list[dict[str, Any]]:
    """The Anthropic stream's events (Bedrock wraps the same ones in its event-stream frames);
    a failing script's end in an `error` event."""
    message = {**_anthropic_whole(s), "content": [], "stop_reason": None}
    message["usage"] = {**message["usage"], "output_tokens": 1}
    frames: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        nonlocal index
        frames.append({"type": "content_block_start", "index": index, "content_block": start})
        if index == 0:
            frames.append({"type": "ping"})
        for d in deltas:
            frames.append({"type": "content_block_delta", "index": index, "delta": d})
        frames.append({"type": "content_block_stop", "index": index})
        index += 1

    if s.reasoning:
        block(
            {"type": "thinking", "thinking": "", "signature": ""},
            [
                {"type": "thinking_delta", "thinking": s.reasoning},
                {"type": "signature_delta", "signature": "sig_up"},
            ],
        )
    if s.fail_mid_stream:
        frames.append(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
        )
        frames.append(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": s.text[0]},
            }
        )
        frames.append(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )
        return frames
    if s.text:
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in s.text])
    for c in s.calls:
        block(
            {"type": "tool_use", "id": c.id, "name": c.name, "input": {}},
            [{"type": "input_json_delta", "partial_json": p} for p in ("", *c.pieces)],
        )
    frames.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": _ANTHROPIC_STOP[s.stop], "stop_sequence": None},
            "usage": {"output_tokens": s.usage[1]},
        }
    )
    frames.append({"type": "message_stop"})
    return frames


# Gemini API

_GEMINI_FINISH = {
    "end": "STOP",
    "stop_sequence": "STOP",
    "length": "MAX_TOKENS",
    "tool": "STOP",
    "refusal": "SAFETY",
}


def _gemini_usage(s: Script) -> dict[str, Any]:
    prompt, completion = s.usage
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }


def _gemini_chunk(parts: list[dict[str, Any]], s: Script, *, last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if last:
        candidate["finishReason"] = _GEMINI_FINISH[s.stop]
    return {
        "candidates": [candidate],
        "usageMetadata": _gemini_usage(s),
        "modelVersion": "gemini-upstream-snapshot",
    }


def _gemini_calls(s: Script) -> list[dict[str, Any]]:
    return [
        {
            "functionCall": {
                "id": c.id,
                "name": c.name,
                "args": json.loads("".join(c.pieces) or "{}"),
            }
        }
        for c in s.calls
    ]


def _gemini_whole(s: Script) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if s.reasoning:
        parts.append({"text": s.reasoning, "thought": True})
    if s.text:
        parts.append({"text": "".join(s.text)})
    return _gemini_chunk(parts + _gemini_calls(s), s, last=True)


def _gemini_frames(s: Script) -> list[str]:
    chunks: list[list[dict[str, Any]]] = []
    if s.reasoning:
        chunks.append([{"text": s.reasoning, "thought": True}])
    for piece in s.text:
        chunks.append([{"text": piece}])
        if s.fail_mid_stream:
            error = {"error": {"code": 500, "message": "upstream blew up", "status": "INTERNAL"}}
            frames = [
                f"data: {json.dumps(_gemini_chunk(c, s, last=False))}\r\n\r\n" for c in chunks
            ]
            return [*frames, f"data: {json.dumps(error)}\r\n\r\n"]
    chunks.extend([call] for call in _gemini_calls(s))
    if not chunks:
        chunks.append([])
    return [
        f"data: {json.dumps(_gemini_chunk(c, s, last=i == len(chunks) - 1))}\r\n\r\n"
        for i, c in enumerate(chunks)
    ]


def _gemini_error(s: Script) -> dict[str, Any]:
    assert s.error is not None
    status, message = s.error
    names = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
    error: dict[str, Any] = {"code": status, "message": message, "status": names.get(status)}
    if s.retry_after:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{s.retry_after}s"}
        ]
    return {"error": error}


class Servers:
    """Every scripted upstream (the tests drive the gateway with the synchronous SDK)."""

    def __init__(self) -> None:
        self.openai = ScriptedServer("openai")
        self.anthropic = ScriptedServer("anthropic")
        self.gemini = ScriptedServer("gemini")
        self.vertex = ScriptedServer("vertex")
        self.bedrock = ScriptedServer("bedrock")

    def all(self) -> tuple[ScriptedServer, ...]:
        return (self.openai, self.anthropic, self.gemini, self.vertex, self.bedrock)

    def start(self) -> None:
        for server in self.all():
            server.upstream.start()

    def stop(self) -> None:
        for server in self.all():
            server.upstream.stop()
