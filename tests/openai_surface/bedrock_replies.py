"""The scenario table's `Script`s in Bedrock's wire format: Claude through InvokeModel (the
Anthropic message) and InvokeModelWithResponseStream (each Anthropic event base64 in an AWS
event-stream `chunk`), other models through Converse and ConverseStream. Errors as Bedrock sends
them (`{"message"}`, the type in x-amzn-ErrorType; in a stream, an `exception` message). Every
stream is checked before it is sent: its framing read back by botocore (lengths, both CRCs) and
a Claude stream's events through the Anthropic grammar validator, so the table's upstream is
exact."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.eventstream import EventStreamBuffer

from switchboard.dialects.aws_eventstream import encode_message
from tests.support.bedrock_wire import EVENTSTREAM, bedrock_error, claude_chunk, exception
from tests.support.mock_upstream import JsonReply, Reply, SSEReply
from tests.support.stream_validator import validate_anthropic_stream

if TYPE_CHECKING:
    from .upstreams import Script

_ERROR_TYPES = {400: "ValidationException", 429: "ThrottlingException"}

_CONVERSE_STOP = {
    "end": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool": "tool_use",
    "refusal": "content_filtered",
}


def bedrock_reply(s: Script, path: str) -> Reply:
    """The reply to one Bedrock operation (the path's last segment says which)."""
    from .upstreams import _anthropic_whole, anthropic_events

    if s.error is not None:
        status, message = s.error
        # Bedrock gives no retry delay (no Retry-After, nothing in the body).
        return bedrock_error(status, _ERROR_TYPES.get(status, "InternalServerException"), message)
    action = path.rsplit("/", 1)[-1]
    if action == "invoke":
        return JsonReply(_anthropic_whole(s))
    if action == "invoke-with-response-stream":
        events = anthropic_events(s)
        if events[-1]["type"] == "error":  # a failure after the first byte
            frames = [claude_chunk(e) for e in events[:-1]]
            frames.append(exception("internalServerException", "upstream blew up"))
        else:
            events[-1]["amazon-bedrock-invocationMetrics"] = {
                "inputTokenCount": s.usage[0],
                "outputTokenCount": s.usage[1],
                "invocationLatency": 100,
                "firstByteLatency": 50,
            }
            sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
            validate_anthropic_stream(sse)
            frames = [claude_chunk(e) for e in events]
        return _stream(frames, s)
    if action == "converse":
        return JsonReply(_converse_whole(s))
    if action == "converse-stream":
        return _stream(_converse_frames(s), s)
    return bedrock_error(404, "UnknownOperationException", "no such operation")


def _stream(frames: list[bytes], s: Script) -> SSEReply:
    buffer = EventStreamBuffer()  # botocore's reader: raises on a bad length or CRC
    buffer.add_data(b"".join(frames))
    assert len(list(buffer)) == len(frames)
    # Apart in time when failing, so the error comes after the client has had the first piece.
    delay = 0.02 if s.fail_mid_stream else 0.0
    return SSEReply(list[str | bytes](frames), delay=delay, content_type=EVENTSTREAM)


def _converse_usage(s: Script) -> dict[str, int]:
    return {"inputTokens": s.usage[0], "outputTokens": s.usage[1], "totalTokens": sum(s.usage)}


def _converse_whole(s: Script) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if s.reasoning:
        text = {"text": s.reasoning, "signature": "sig_up"}
        content.append({"reasoningContent": {"reasoningText": text}})
    if s.text:
        content.append({"text": "".join(s.text)})
    for c in s.calls:
        args = json.loads("".join(c.pieces) or "{}")
        content.append({"toolUse": {"toolUseId": c.id, "name": c.name, "input": args}})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _CONVERSE_STOP[s.stop],
        "usage": _converse_usage(s),
        "metrics": {"latencyMs": 120},
    }


def _event(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json.dumps(payload).encode())


def _converse_frames(s: Script) -> list[bytes]:
    out = [_event("messageStart", {"role": "assistant"})]
    index = 0

    def delta(d: dict[str, Any]) -> None:
        out.append(_event("contentBlockDelta", {"contentBlockIndex": index, "delta": d}))

    def stop() -> None:
        nonlocal index
        out.append(_event("contentBlockStop", {"contentBlockIndex": index}))
        index += 1

    if s.reasoning:
        delta({"reasoningContent": {"text": s.reasoning}})
        delta({"reasoningContent": {"signature": "sig_up"}})
        stop()
    if s.text:
        for piece in s.text:
            delta({"text": piece})
            if s.fail_mid_stream:
                return [*out, exception("internalServerException", "upstream blew up")]
        stop()
    for c in s.calls:
        start = {"toolUse": {"toolUseId": c.id, "name": c.name}}
        out.append(_event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        for piece in c.pieces:
            delta({"toolUse": {"input": piece}})
        stop()
    out.append(_event("messageStop", {"stopReason": _CONVERSE_STOP[s.stop]}))
    out.append(_event("metadata", {"usage": _converse_usage(s), "metrics": {"latencyMs": 100}}))
    return out
