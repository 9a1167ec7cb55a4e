"""The scripted upstream's Gemini and Bedrock replies (the lanes of `--scenarios providers`),
serialised once at start like the others (replies.py): the same text, pieces and usage, so the
correctness gate checks them the same way.

- Gemini API: `generateContent` (JSON) and `streamGenerateContent?alt=sse` (SSE, events
  separated by CRLF CRLF as Google sends them, usage and finish reason on the last one).
- Bedrock InvokeModel for Claude: the Anthropic message itself, and for
  InvokeModelWithResponseStream the Anthropic events, each base64 in a `chunk` message of the
  AWS event-stream binary framing (with its CRCs), Bedrock's metrics on the last one."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from bench.replies import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    REPLY_TEXT,
    STREAM_END,
    UPSTREAM_MODEL,
    Script,
    anthropic_stream_events,
    chunk,
    text_pieces,
)
from switchboard.dialects.aws_eventstream import encode_message

EVENTSTREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
    b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)
GEMINI_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)
_GEMINI_USAGE = {
    "promptTokenCount": PROMPT_TOKENS,
    "candidatesTokenCount": COMPLETION_TOKENS,
    "totalTokenCount": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def _candidate(text: str | None, finish: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"index": 0}
    if text is not None:
        out["content"] = {"role": "model", "parts": [{"text": text}]}
    if finish is not None:
        out["finishReason"] = finish
    return out


def gemini_response() -> bytes:
    return orjson.dumps(
        {
            "candidates": [_candidate(REPLY_TEXT, "STOP")],
            "usageMetadata": _GEMINI_USAGE,
            "modelVersion": UPSTREAM_MODEL,
            "responseId": "resp-bench",
        }
    )


def _gemini_event(body: dict[str, Any]) -> bytes:
    return chunk(b"data: " + orjson.dumps({**body, "modelVersion": UPSTREAM_MODEL}) + b"\r\n\r\n")


def gemini_stream(script: Script) -> tuple[bytes, list[bytes], bytes]:
    """Text pieces only: Gemini sends a function call whole, so the tool script is the text."""
    deltas = [
        _gemini_event({"candidates": [_candidate(p)]}) for p in text_pieces(script.text_deltas)
    ]
    last = _gemini_event({"candidates": [_candidate(None, "STOP")], "usageMetadata": _GEMINI_USAGE})
    return GEMINI_SSE_HEAD, deltas, last + STREAM_END


def _bedrock_chunk(event: dict[str, Any]) -> bytes:
    data = base64.b64encode(orjson.dumps(event)).decode()
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, orjson.dumps({"bytes": data}))


def bedrock_stream(script: Script) -> tuple[bytes, list[bytes], bytes]:
    first, deltas, tail = anthropic_stream_events(script)
    tail[-1] = {
        **tail[-1],
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": PROMPT_TOKENS,
            "outputTokenCount": COMPLETION_TOKENS,
            "invocationLatency": 100,
            "firstByteLatency": 50,
        },
    }

    def frames(events: list[dict[str, Any]]) -> bytes:
        return chunk(b"".join(map(_bedrock_chunk, events)))

    return EVENTSTREAM_HEAD + frames(first), [frames(d) for d in deltas], frames(tail) + STREAM_END
