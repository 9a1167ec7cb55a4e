"""What the scripted upstream answers, serialised once at start: whole HTTP responses for the
non-streaming replies, and per-event byte strings (already chunk-framed) for the paced streams.

A request picks its script with a marker in its last user message, `[[bench:NAME]]`, so every
gateway routes it unchanged whatever its model routing can do. Usage numbers are distinctive, so
the correctness gate can tell the upstream's real usage from a gateway's own estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PROMPT_TOKENS = 3217
COMPLETION_TOKENS = 73
UPSTREAM_MODEL = "bench-upstream"
REPLY_TEXT = "The quick brown fox jumps over the lazy dog. " * 3
TOOL_NAME = "Bash"
TOOL_ID = "call_bench0001"
TOOL_INPUT = {"command": "grep -rn 'def main' src/ | head -50", "description": "x" * 180}

PACE_S = 0.020  # the gap between stream deltas
STALL_S = 0.200  # a stall: a gap over 10x the pace


@dataclass(frozen=True, slots=True)
class Script:
    """One stream: `text_deltas` text pieces, then `tool_deltas` argument pieces of one tool call,
    each `pace` seconds after the one before."""

    name: str
    text_deltas: int
    tool_deltas: int = 0
    pace: float = PACE_S

    @property
    def deltas(self) -> int:
        return self.text_deltas + self.tool_deltas


SCRIPTS = {
    s.name: s
    for s in (
        Script("text", 64),  # the stream scenarios: 64 deltas 20 ms apart
        Script("short", 8),  # time to first token, one at a time, paced
        Script("burst", 8, 0, 0.0),  # time to first token, one at a time, back to back
        Script("tools", 8, 56),  # tool-call streaming: text, then a tool call in 56 pieces
        Script("fast", 64, 0, 0.0),  # unpaced
    )
}


def marker(script: str) -> str:
    return f"[[bench:{script}]]"


def text_pieces(n: int) -> list[str]:
    # Each piece starts with "w": the load generator counts deltas by a byte marker.
    return [f"w{i:02d} " for i in range(n)]


def tool_pieces(n: int) -> list[str]:
    args = orjson.dumps(TOOL_INPUT).decode()
    return [args[i * len(args) // n : (i + 1) * len(args) // n] for i in range(n)]


def expected_text(script: Script) -> str:
    return "".join(text_pieces(script.text_deltas))


# --- HTTP framing ----------------------------------------------------------------------------


def http_response(body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: keep-alive\r\n\r\n"
        + body
    )


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)
STREAM_END = b"0\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def error_response(status: int, message: str) -> bytes:
    body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    return (
        b"HTTP/1.1 %d Error\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: keep-alive\r\n\r\n%s" % (status, len(body), body)
    )


# --- OpenAI chat completions ---------------------------------------------------------------

_OAI_USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def openai_completion(tools: bool) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": REPLY_TEXT}
    finish = "stop"
    if tools:
        message["tool_calls"] = [
            {
                "id": TOOL_ID,
                "type": "function",
                "function": {"name": TOOL_NAME, "arguments": orjson.dumps(TOOL_INPUT).decode()},
            }
        ]
        finish = "tool_calls"
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": UPSTREAM_MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _OAI_USAGE,
        }
    )


def _oai_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": UPSTREAM_MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )
    return chunk(b"data: " + body + b"\n\n")


def openai_stream(script: Script) -> tuple[bytes, list[bytes], bytes]:
    """(what goes with the headers, one chunk per paced delta, the tail after the last delta)."""
    first = STREAM_HEAD + _oai_chunk({"role": "assistant", "content": ""})
    deltas = [_oai_chunk({"content": p}) for p in text_pieces(script.text_deltas)]
    if script.tool_deltas:
        deltas.append(
            _oai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": TOOL_ID,
                            "type": "function",
                            "function": {"name": TOOL_NAME, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in tool_pieces(script.tool_deltas):
            deltas.append(
                _oai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            )
        # The name chunk rides with the first argument piece so the count stays `deltas`.
        deltas[script.text_deltas : script.text_deltas + 2] = [
            deltas[script.text_deltas] + deltas[script.text_deltas + 1]
        ]
    finish = "tool_calls" if script.tool_deltas else "stop"
    usage = orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": UPSTREAM_MODEL,
            "choices": [],
            "usage": _OAI_USAGE,
        }
    )
    tail = (
        _oai_chunk({}, finish)
        + chunk(b"data: " + usage + b"\n\n")
        + chunk(b"data: [DONE]\n\n")
        + STREAM_END
    )
    return first, deltas, tail


# --- Anthropic Messages ----------------------------------------------------------------------

_ANT_USAGE = {
    "input_tokens": PROMPT_TOKENS,
    "output_tokens": COMPLETION_TOKENS,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}


def anthropic_message(tools: bool) -> bytes:
    content: list[dict[str, Any]] = [{"type": "text", "text": REPLY_TEXT}]
    if tools:
        content.append({"type": "tool_use", "id": TOOL_ID, "name": TOOL_NAME, "input": TOOL_INPUT})
    return orjson.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": UPSTREAM_MODEL,
            "content": content,
            "stop_reason": "tool_use" if tools else "end_turn",
            "stop_sequence": None,
            "usage": _ANT_USAGE,
        }
    )


def _ant_event(data: dict[str, Any]) -> bytes:
    return chunk(b"event: " + data["type"].encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n")


Events = list[dict[str, Any]]


def anthropic_stream_events(script: Script) -> tuple[Events, list[Events], Events]:
    """The Anthropic stream's events: those sent with the head, those of each paced delta, and
    the tail (Bedrock's InvokeModel stream carries the same events in its own framing)."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": UPSTREAM_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**_ANT_USAGE, "output_tokens": 1},
        },
    }
    first: Events = [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    deltas: list[Events] = [
        [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}]
        for p in text_pieces(script.text_deltas)
    ]
    if script.tool_deltas:
        opening: Events = [
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": TOOL_ID,
                    "name": TOOL_NAME,
                    "input": {},
                },
            },
        ]
        pieces: list[Events] = [
            [
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": p},
                }
            ]
            for p in tool_pieces(script.tool_deltas)
        ]
        pieces[0] = opening + pieces[0]
        deltas += pieces
    last = 1 if script.tool_deltas else 0
    tail: Events = [
        {"type": "content_block_stop", "index": last},
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": "tool_use" if script.tool_deltas else "end_turn",
                "stop_sequence": None,
            },
            "usage": {"output_tokens": COMPLETION_TOKENS},
        },
        {"type": "message_stop"},
    ]
    return first, deltas, tail


def anthropic_stream(script: Script) -> tuple[bytes, list[bytes], bytes]:
    first, deltas, tail = anthropic_stream_events(script)
    return (
        STREAM_HEAD + b"".join(map(_ant_event, first)),
        [b"".join(map(_ant_event, d)) for d in deltas],
        b"".join(map(_ant_event, tail)) + STREAM_END,
    )
