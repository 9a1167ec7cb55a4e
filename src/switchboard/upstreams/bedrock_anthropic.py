"""Bedrock's InvokeModel half: Claude speaks the Messages API (`anthropic_version:
bedrock-2023-05-31`, betas in the body, the model in the URL). The body as InvokeModel takes it,
and how a streamed reply's `chunk`s (each one Anthropic event's data, base64 in JSON) are
unwrapped into the events they carry, for anthropic.py's own readers: translated into the IR, or
relayed to an Anthropic client. Only the wrapping is Bedrock's; the reading is Anthropic's."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

import orjson

from switchboard import ir
from switchboard.dialects.anthropic.passthrough import StreamRelay
from switchboard.dialects.anthropic.stream import StreamDecoder
from switchboard.dialects.sse import SSEEvent
from switchboard.dialects.validation import dump_body, load_body
from switchboard.redact import Redactor
from switchboard.upstreams import anthropic
from switchboard.upstreams.bedrock_stream import Carried, EventStreamFraming

ANTHROPIC_VERSION = "bedrock-2023-05-31"
T = TypeVar("T")


def for_invoke(body: Any, beta: str | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise TypeError("the body is not a JSON object")
    body.pop("model", None)
    body.pop("stream", None)  # the action says it
    body["anthropic_version"] = ANTHROPIC_VERSION
    if beta:
        betas = [b.strip() for b in beta.split(",") if b.strip()]
        listed = body.get("anthropic_beta")
        if isinstance(listed, list):
            betas = [*listed, *(b for b in betas if b not in listed)]
        if betas:
            body["anthropic_beta"] = betas
    return body


def invoke_body(body: bytes, beta: str | None) -> bytes:
    """An Anthropic client's body as InvokeModel takes it: no `model` or `stream`, Bedrock's
    `anthropic_version`, the `anthropic-beta` header's betas as the `anthropic_beta` list."""
    return dump_body(for_invoke(load_body(body), beta), body)


def chunk_data(payload: bytes) -> bytes:
    """An InvokeModelWithResponseStream `chunk`'s payload, `{"bytes": base64(one Anthropic
    event's data)}` -> that data."""
    return base64.b64decode(orjson.loads(payload)["bytes"], validate=True)


def chunk_event(payload: bytes) -> SSEEvent:
    """A `chunk`'s payload -> the Anthropic event it carries as an SSE event, named by its
    `type` as the Anthropic API names it."""
    data = chunk_data(payload)
    event = orjson.loads(data)
    name = event["type"]
    if not isinstance(name, str):
        raise ValueError("an event without a type")
    if b"\n" in data or b"\r" in data:  # one `data:` line: JSON laid out over lines is packed
        data = orjson.dumps(event)
    return SSEEvent(name, data, b"event: " + name.encode() + b"\ndata: " + data)


def _data_event(payload: bytes) -> SSEEvent:
    """A `chunk`'s payload -> its event's data, all the Anthropic decoder reads."""
    data = chunk_data(payload)
    if not data:  # the Anthropic reader passes empty data over; an empty chunk is broken
        raise ValueError("an empty chunk")
    return SSEEvent(None, data, b"")


# Claude's chunks for anthropic.py's readers: relayed to an Anthropic client, or translated.
RELAYED = Carried(chunk_event, "a chunk that is not an Anthropic event")
TRANSLATED = Carried(_data_event, "a chunk without bytes")


class EventReader(anthropic.EventReader):
    """Claude's stream translated: the events its chunks carry, read by the Anthropic reader. A
    chunk the framing could not read fails the read it came in, after the events before it,
    unless they ended the stream: where the reader would have met it."""

    __slots__ = ("_framing",)

    def __init__(
        self, name: str, decoder: StreamDecoder, redactor: Redactor, framing: EventStreamFraming
    ) -> None:
        super().__init__(name, decoder, redactor)
        self._framing = framing

    def take(self, events: list[SSEEvent]) -> list[ir.Event]:
        return _checked(super().take(events), self.done, self._framing)


class RelayReader(anthropic.RelayReader):
    """Claude's stream relayed to an Anthropic client: the events its chunks carry, relayed by
    the Anthropic reader; a chunk the framing could not read as for EventReader."""

    __slots__ = ("_framing",)

    def __init__(
        self, name: str, relay: StreamRelay, redactor: Redactor, framing: EventStreamFraming
    ) -> None:
        super().__init__(name, relay, redactor)
        self._framing = framing

    def take(self, events: list[SSEEvent]) -> bytes:
        return _checked(super().take(events), self.done, self._framing)


def _checked(item: T, done: bool, framing: EventStreamFraming) -> T:
    """A read's item, unless the framing found a broken chunk after the read's events and they
    did not end the stream."""
    broken = framing.broken
    if broken is not None and not done:
        raise broken
    return item
