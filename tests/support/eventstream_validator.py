"""A grammar check for a Bedrock InvokeModelWithResponseStream body: the AWS event-stream framing
read by botocore (an implementation that is not the gateway's; it checks both CRCs and the
lengths), each message an `event` of type `chunk` with the JSON content type, whose payload is
exactly `{"bytes": base64}`; the decoded events must then pass the Anthropic stream validator.
A stream may end with one `exception` message (a failure after the first byte)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.eventstream import EventStreamBuffer

from .sse import SSEEvent
from .stream_validator import StreamGrammarError, validate_anthropic_stream

CHUNK_HEADERS = {
    ":event-type": "chunk",
    ":content-type": "application/json",
    ":message-type": "event",
}


@dataclass
class BedrockStream:
    events: list[dict[str, Any]] = field(default_factory=list)  # the decoded Anthropic events
    exception: tuple[str, str] | None = None  # (its :exception-type, its message)


def validate_bedrock_stream(body: bytes, *, complete: bool = True) -> BedrockStream:
    """`complete=False`: the Anthropic events may stop short (a stream that failed)."""
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    out = BedrockStream()
    sse: list[SSEEvent] = []
    for i, message in enumerate(buffer):  # raises on a bad CRC or length
        headers = dict(message.headers)
        if out.exception is not None:
            raise StreamGrammarError(i, "exception is last", "a message after the exception")
        if headers.get(":message-type") == "exception":
            payload = json.loads(message.payload)
            out.exception = (headers[":exception-type"], payload["message"])
            continue
        if headers != CHUNK_HEADERS:
            raise StreamGrammarError(i, "chunk headers", f"got {headers}")
        payload = json.loads(message.payload)
        if set(payload) != {"bytes"}:
            raise StreamGrammarError(i, "payload is {bytes}", f"got keys {sorted(payload)}")
        data = base64.b64decode(payload["bytes"], validate=True).decode()
        sse.append(SSEEvent(json.loads(data).get("type"), data))
    if buffer._data:  # botocore keeps an unfinished message here
        raise StreamGrammarError(len(sse), "whole messages", "the body ends inside a message")
    if complete:
        out.events = validate_anthropic_stream(sse)
    else:
        out.events = [json.loads(e.data) for e in sse]
    return out
