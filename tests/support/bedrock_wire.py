"""Bedrock's wire format for the scripted Bedrock server: InvokeModel and Converse replies, their
streams in the AWS event-stream binary framing (correct CRCs), exceptions and error bodies."""

from __future__ import annotations

import base64
import json
from typing import Any

from switchboard.dialects.aws_eventstream import encode_message

from .anthropic_wire import ToolUseBlock, anthropic_message, anthropic_stream_events
from .replies import JsonReply, SSEReply

EVENTSTREAM = "application/vnd.amazon.eventstream"


def _event(event_type: str, payload: dict[str, Any]) -> bytes:
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        json.dumps(payload).encode(),
    )


def claude_chunk(event: dict[str, Any]) -> bytes:
    """One InvokeModelWithResponseStream `chunk`: the Anthropic event's JSON, base64 in `bytes`."""
    data = json.dumps(event).encode()
    return _event("chunk", {"bytes": base64.b64encode(data).decode(), "p": "abcdefgh"})


def chunk(payload: dict[str, Any]) -> bytes:
    """A `chunk` message with `payload` as given: for chunks that are not what Bedrock sends."""
    return _event("chunk", payload)


def claude_message(text: str = "ok", **kwargs: Any) -> JsonReply:
    """InvokeModel's reply for Claude: the Anthropic message itself."""
    reply = anthropic_message(text, **kwargs)
    return JsonReply(reply.body)


def claude_stream(
    pieces: list[str] | None = None,
    *,
    usage: tuple[int, int] = (10, 2),
    thinking: str | None = None,
    tool_uses: list[ToolUseBlock] | None = None,
    stop_reason: str = "end_turn",
    split: int = 0,
) -> SSEReply:
    """InvokeModelWithResponseStream's reply. `split` > 0 writes the bytes in pieces of that
    size (messages cut anywhere, as TCP may deliver them)."""
    events = anthropic_stream_events(
        pieces, usage=usage, thinking=thinking, tool_uses=tool_uses, stop_reason=stop_reason
    )
    # Bedrock adds its metrics to the last event.
    events[-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": usage[0],
        "outputTokenCount": usage[1],
        "invocationLatency": 100,
        "firstByteLatency": 50,
    }
    return _frames([claude_chunk(e) for e in events], split)


def _frames(messages: list[bytes], split: int) -> SSEReply:
    frames: list[str | bytes] = list(messages)
    if split:
        whole = b"".join(messages)
        frames = [whole[i : i + split] for i in range(0, len(whole), split)]
    return SSEReply(frames, content_type=EVENTSTREAM)


def exception(kind: str, message: str) -> bytes:
    """An in-stream exception, e.g. kind `throttlingException`."""
    return encode_message(
        {
            ":exception-type": kind,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


def bedrock_error(status: int, kind: str, message: str) -> JsonReply:
    """An error reply as Bedrock sends it: `{"message"}` and the type in x-amzn-ErrorType."""
    return JsonReply(
        {"message": message},
        status=status,
        headers={
            "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        },
    )


def converse_message(
    text: str = "ok",
    *,
    usage: tuple[int, int] = (10, 2),
    stop_reason: str = "end_turn",
    tool: tuple[str, str, dict[str, Any]] | None = None,
) -> JsonReply:
    content: list[dict[str, Any]] = [{"text": text}] if text else []
    if tool is not None:
        content.append({"toolUse": {"toolUseId": tool[0], "name": tool[1], "input": tool[2]}})
    return JsonReply(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": usage[0],
                "outputTokens": usage[1],
                "totalTokens": usage[0] + usage[1],
            },
            "metrics": {"latencyMs": 120},
        }
    )


def converse_stream_messages(
    pieces: list[str] | None = None,
    *,
    usage: tuple[int, int] = (10, 2),
    stop_reason: str = "end_turn",
    reasoning: str | None = None,
    tool: tuple[str, str, list[str]] | None = None,
) -> list[bytes]:
    pieces = ["Hel", "lo"] if pieces is None else pieces
    out = [_event("messageStart", {"role": "assistant"})]
    index = 0
    delta: dict[str, Any]
    if reasoning is not None:
        delta = {"reasoningContent": {"text": reasoning}}
        out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        sig = {"reasoningContent": {"signature": "bedrock-sig"}}
        out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": sig}))
        out.append(_event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    if pieces:
        for piece in pieces:
            delta = {"text": piece}
            out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        out.append(_event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    if tool is not None:
        start = {"toolUse": {"toolUseId": tool[0], "name": tool[1]}}
        out.append(_event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        for part in tool[2]:
            delta = {"toolUse": {"input": part}}
            out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        out.append(_event("contentBlockStop", {"contentBlockIndex": index}))
    out.append(_event("messageStop", {"stopReason": stop_reason}))
    tokens = {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)}
    out.append(_event("metadata", {"usage": tokens, "metrics": {"latencyMs": 100}}))
    return out


def converse_stream(pieces: list[str] | None = None, *, split: int = 0, **kwargs: Any) -> SSEReply:
    return _frames(converse_stream_messages(pieces, **kwargs), split)
