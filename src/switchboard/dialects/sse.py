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


class EventTooLarge(ValueError):
    """An event grew past the decoder's bound before its blank line came."""


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events completed so far. Accepts `\\n`,
    `\\r\\n` and `\\r` line ends, multi-line data, comments, and `data:` without a space.

    An event may span reads; its pieces are kept, not joined, until its blank line comes, and
    one that grows past `max_event` bytes raises EventTooLarge: a stream that never ends an
    event must not take the gateway's memory with it."""

    __slots__ = ("_cr", "_max", "_parts", "_size")

    def __init__(self, max_event: int = 16 * 1024 * 1024) -> None:
        self._parts: list[bytes] = []  # the unfinished event, as received
        self._size = 0
        self._max = max_event
        self._cr = False  # the last read ended with a CR: an LF that starts the next is its pair

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = self._parts
        if parts:
            if not chunk:  # the LF of a CRLF split between reads
                return []
            joins = parts[-1][-1:] == b"\n" == chunk[:1]  # the blank line spans the reads
            end = 0 if joins else chunk.find(b"\n\n")
            if end < 0:
                self._keep(chunk)  # the event goes on
                return []
            # Its blank line came, too late? When that line spans the reads, the LF kept last is
            # its first half, not the event's.
            if self._size + end - joins > self._max:
                raise self._too_large()
            blocks = (b"".join(parts) + chunk).split(b"\n\n")
            parts.clear()
            self._size = 0
        else:
            blocks = chunk.split(b"\n\n")
        if len(chunk) > self._max and any(len(b) > self._max for b in blocks):
            raise self._too_large()
        tail = blocks.pop()
        if tail:
            self._keep(tail)
        events = []
        for block in blocks:
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: a last event that lacked its blank line still counts."""
        block = b"".join(self._parts).rstrip(b"\r\n")
        self._parts.clear()
        self._size = 0
        event = _parse_block(block) if block else None
        return [event] if event is not None else []

    def _keep(self, piece: bytes) -> None:
        self._size += len(piece)
        # A last LF may be half of the blank line, not part of the event.
        if self._size > self._max + (piece[-1:] == b"\n"):
            raise self._too_large()
        self._parts.append(piece)

    def _too_large(self) -> EventTooLarge:
        self._parts.clear()
        self._size = 0
        return EventTooLarge(f"an event is larger than the {self._max}-byte limit")


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
