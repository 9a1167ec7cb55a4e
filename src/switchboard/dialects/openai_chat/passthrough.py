"""Same-format traffic (OpenAI client, OpenAI-dialect upstream): the body goes through with only
`model` changed, and the reply comes back with `model` set to the client's name while usage is
read on the way. A stream always asks the upstream for usage so it can be accounted; when the
client did not ask for it, the usage chunk is kept from the client."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.openai_chat import wire
from switchboard.dialects.openai_chat.response import usage as usage_of
from switchboard.dialects.passthrough import rewrite_reply
from switchboard.dialects.sse import SSEEvent, data_frame
from switchboard.dialects.validation import dump_body, load_body

DONE = data_frame(b"[DONE]")


def rewrite_request(body: bytes, model: str) -> bytes:
    data = load_body(body)
    if not isinstance(data, dict):
        raise ValueError("the request body is not a JSON object")
    data["model"] = model
    if data.get("stream") is True:
        options = data.get("stream_options")
        options = dict(options) if isinstance(options, dict) else {}
        options["include_usage"] = True
        data["stream_options"] = options
    return dump_body(data, body)


def _usage(raw: Any, base: ir.Usage) -> ir.Usage:
    if not isinstance(raw, dict):
        return base
    try:
        return usage_of(msgspec.convert(raw, wire.Usage))
    except msgspec.ValidationError:
        return base


def rewrite_response(body: bytes, model: str) -> tuple[bytes, ir.Usage]:
    return rewrite_reply(body, model, _reply_usage)


def _reply_usage(raw: Any) -> ir.Usage:
    return _usage(raw, ir.Usage())


class StreamError(Exception):
    """The upstream sent an error object inside its 200 stream."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class StreamRelay:
    """Relays chunks with `model` rewritten. Usage is the last non-null one seen (top level, or
    Moonshot's `choices[0].usage`), never a sum."""

    __slots__ = ("_forward_usage", "_model", "done", "finished", "usage")

    def __init__(self, model: str, *, forward_usage: bool) -> None:
        self._model = model
        self._forward_usage = forward_usage
        self.usage = ir.Usage()
        self.finished = False  # a finish_reason was seen
        self.done = False  # [DONE] was seen

    def relay(self, event: SSEEvent) -> bytes:
        if event.data == b"[DONE]":
            self.done = True
            return DONE
        if not event.data:
            return b""
        data = orjson.loads(event.data)
        if not isinstance(data, dict):
            raise ValueError("a stream chunk is not a JSON object")
        error = data.get("error")
        if error is not None:
            raise _stream_error(error)
        choices = data.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict):
                if choice.get("finish_reason") is not None:
                    self.finished = True
                self.usage = _usage(choice.get("usage"), self.usage)
        self.usage = _usage(data.get("usage"), self.usage)
        if not self._forward_usage and "usage" in data:
            if not choices and data["usage"] is not None:
                return b""  # the usage-only chunk the client did not ask for
            del data["usage"]
        if "model" in data:
            data["model"] = self._model
        return data_frame(orjson.dumps(data))


def _stream_error(error: Any) -> StreamError:
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else 502
        return StreamError(str(message or "stream error"), status)
    return StreamError(str(error), 502)
