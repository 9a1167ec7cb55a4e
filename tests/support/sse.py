"""Server-sent events: a strict-enough parser for asserting on wire output, and a formatter."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# SSE allows exactly these three line terminators; str.splitlines() would also split on
# \x0b, \x1c, \u2028 and friends, which are legal inside an SSE data line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEParseError(ValueError):
    """The byte stream is not well-formed SSE (bad UTF-8 or a truncated final event)."""


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: str


def parse_sse(raw: bytes | str, *, allow_partial: bool = False) -> list[SSEEvent]:
    """Split an SSE body into events.

    Differences from the WHATWG algorithm, chosen so tests see problems instead of losing them:
    an event with an ``event:`` line but no ``data:`` line is returned with ``data == ""``; and a
    final event that is not terminated by a blank line raises SSEParseError unless
    ``allow_partial`` is set (then it is dropped, as a browser would), because a gateway that
    truncates its last event breaks real clients. ``id:``/``retry:`` and unknown fields are
    ignored; lines starting with ``:`` are comments.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SSEParseError(f"stream is not valid UTF-8: {exc}") from exc
    else:
        text = raw
    text = text.removeprefix("\ufeff")
    lines = _LINE_BREAK.split(text)
    # The piece after the final terminator is an unterminated line ("" when the text ends cleanly).
    tail = lines.pop()
    events: list[SSEEvent] = []
    event: str | None = None
    data: list[str] = []
    seen_field = False
    for line in lines:
        if line == "":
            if seen_field:
                events.append(SSEEvent(event=event, data="\n".join(data)))
            event, data, seen_field = None, [], False
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event, seen_field = value, True
        elif name == "data":
            data.append(value)
            seen_field = True
    if (tail or seen_field) and not allow_partial:
        pending = tail if tail else "\n".join(data)
        raise SSEParseError(f"stream ends inside an unterminated event: {pending[:80]!r}")
    return events


def format_sse(data: object, event: str | None = None) -> str:
    """One complete SSE frame. ``data`` is JSON-encoded unless it is already a ``str``.

    JSON is compact, like the real APIs. A str containing newlines becomes several data lines.
    """
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event is not None else ""
    body = "".join(f"data: {line}\n" for line in payload.split("\n"))
    return f"{head}{body}\n"
