"""Bedrock's InvokeModel half: Claude speaks the Messages API (`anthropic_version:
bedrock-2023-05-31`, betas in the body, the model in the URL). The body as InvokeModel takes it,
and a streamed reply's `chunk`s (each one Anthropic event's data, base64 in JSON) read either
into the IR or relayed to an Anthropic client as the SSE events they carry."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from switchboard import ir
from switchboard.dialects.anthropic import upstream_request as anthropic_request
from switchboard.dialects.anthropic.passthrough import StreamRelay
from switchboard.dialects.anthropic.stream import StreamDecoder as AnthropicDecoder
from switchboard.dialects.sse import SSEEvent
from switchboard.dialects.validation import dump_body, load_body
from switchboard.errors import UpstreamError
from switchboard.upstreams.base import Call
from switchboard.upstreams.stream import RelayingReader

ANTHROPIC_VERSION = "bedrock-2023-05-31"


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


def anthropic_profile(call: Call) -> anthropic_request.UpstreamProfile:
    p = call.profile
    return anthropic_request.UpstreamProfile(
        model_id=p.id,
        upstream_model=call.channel.model,
        max_output_tokens=p.max_output_tokens,
        vision=p.capabilities.vision,
        pdf=p.capabilities.pdf,
    )


def chunk_event(payload: bytes) -> SSEEvent:
    """An InvokeModelWithResponseStream `chunk`'s payload: `{"bytes": base64(one Anthropic
    event's data)}` -> that event as an SSE event, named by its `type` as the Anthropic API
    names it."""
    wrapper = orjson.loads(payload)
    data = base64.b64decode(wrapper["bytes"], validate=True)
    event = orjson.loads(data)
    name = event["type"]
    if not isinstance(name, str):
        raise ValueError("an event without a type")
    if b"\n" in data or b"\r" in data:  # one `data:` line: JSON laid out over lines is packed
        data = orjson.dumps(event)
    return SSEEvent(name, data, b"event: " + name.encode() + b"\ndata: " + data)


class AnthropicChunks:
    """Claude's streamed `chunk`s, each one Anthropic event's data, for the Anthropic decoder."""

    __slots__ = ("_decoder", "_provider")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._decoder = AnthropicDecoder(provider=provider)

    @property
    def finished(self) -> bool:
        return self._decoder.finished

    @property
    def usage(self) -> ir.Usage:
        return self._decoder.usage

    @property
    def notes(self) -> list[str]:
        return self._decoder.notes

    def feed(self, event_type: str, payload: bytes) -> list[ir.Event]:
        if event_type != "chunk":
            return []
        try:
            data = base64.b64decode(orjson.loads(payload)["bytes"], validate=True)
        except (ValueError, KeyError, TypeError):
            raise UpstreamError.malformed(self._provider, "a chunk without bytes") from None
        return self._decoder.feed(data)

    def finish(self) -> list[ir.Event]:
        if not self._decoder.finished:
            raise UpstreamError.malformed(self._provider, "the stream ended before message_stop")
        return []


class RelayReader(RelayingReader[StreamRelay]):
    """Claude's stream relayed to an Anthropic client: each `chunk` becomes the SSE event it
    carries, through the same relay as Anthropic's own streams."""

    __slots__ = ()

    def take(self, events: list[SSEEvent]) -> bytes:
        relay = self._relay
        out: list[bytes] = []
        for event in events:
            if event.event != "chunk":
                continue
            try:
                out.append(relay.relay(chunk_event(event.data)))
            except (ValueError, KeyError, TypeError):
                raise UpstreamError.malformed(
                    self._name, "a chunk that is not an Anthropic event"
                ) from None
            if relay.stopped:
                if out[-1].startswith(b"event: error"):
                    out[-1] = self._redactor.frame(out[-1])  # relayed: masked first
                self.done = True
                break
        return b"".join(out)

    def end(self) -> bytes:
        raise UpstreamError.malformed(self._name, "the stream ended before message_stop")
