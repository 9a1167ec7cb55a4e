"""Server-sent events: framing for what we send, an incremental decoder for what we receive."""

from __future__ import annotations


def frame(event: str, data: bytes) -> bytes:
    """One named event, one `data:` line (the real Anthropic API's framing)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def data_frame(data: bytes) -> bytes:
    """An unnamed event (OpenAI's framing)."""
    return b"data: " + data + b"\n\n"


class SSEEvent:
    __slots__ = ("_block", "data", "event")

    def __init__(self, event: str | None, data: bytes, block: bytes) -> None:
        self.event = event
        self.data = data
        self._block = block

    @property
    def raw(self) -> bytes:
        """The whole block as received (line ends normalised), for byte-exact relays."""
        return self._block + b"\n\n"


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events completed so far. Accepts `\\n`,
    `\\r\\n` and `\\r` line ends, multi-line data, comments, and `data:` without a space."""

    __slots__ = ("_buffer", "_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._cr = False  # the last read ended with a CR: an LF that starts the next is its pair

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = (self._buffer + chunk).split(b"\n\n") if self._buffer else chunk.split(b"\n\n")
        self._buffer = blocks.pop()
        events = []
        for block in blocks:
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: a last event that lacked its blank line still counts."""
        block, self._buffer = self._buffer.rstrip(b"\r\n"), b""
        event = _parse_block(block) if block else None
        return [event] if event is not None else []


def _parse_block(block: bytes) -> SSEEvent | None:
    if block.startswith(b"data: ") and b"\n" not in block:
        return SSEEvent(None, block[6:], block)  # what nearly every upstream event is
    name: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data and name is None:
        return None
    return SSEEvent(name, b"\n".join(data), block)
