"""The AWS event-stream binary framing (application/vnd.amazon.eventstream), as Bedrock streams
its replies: each message is a prelude (total length, headers length, the prelude's CRC32), the
headers, the payload, and the whole message's CRC32. Pure: bytes in, messages out.

The decoder is incremental (a message may span any number of reads) and bounded: a message
that declares more than `max_message` bytes fails the stream before any of it is kept."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_PRELUDE = 12  # total length, headers length, prelude CRC
_MIN_MESSAGE = _PRELUDE + 4  # no headers, no payload, the message CRC

# Header value types: the fixed-size ones by their size; 6 (bytes) and 7 (string) carry a
# 2-byte length.
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


class EventStreamError(ValueError):
    """The bytes are not a valid event stream (bad CRC, bad lengths, a message too large)."""


@dataclass(frozen=True, slots=True)
class EventMessage:
    headers: dict[str, str]  # string headers; others kept as their text form
    payload: bytes

    @property
    def message_type(self) -> str:
        return self.headers.get(":message-type", "event")

    @property
    def event_type(self) -> str:
        return self.headers.get(":event-type", "")


class EventStreamDecoder:
    __slots__ = ("_buffer", "_max")

    def __init__(self, max_message: int = 16 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max = max_message

    def feed(self, chunk: bytes) -> list[EventMessage]:
        buffer = self._buffer
        buffer += chunk
        out: list[EventMessage] = []
        start = 0
        while len(buffer) - start >= _PRELUDE:
            total, headers_len, prelude_crc = struct.unpack_from(">III", buffer, start)
            if zlib.crc32(memoryview(buffer)[start : start + 8]) != prelude_crc:
                raise EventStreamError("event stream prelude CRC mismatch")
            if total > self._max:
                raise EventStreamError(
                    f"an event stream message of {total} bytes is over the {self._max}-byte limit"
                )
            if total < _MIN_MESSAGE or headers_len > total - _MIN_MESSAGE:
                raise EventStreamError("event stream message lengths are inconsistent")
            if len(buffer) - start < total:
                break
            view = memoryview(buffer)[start : start + total]
            (message_crc,) = struct.unpack_from(">I", view, total - 4)
            if zlib.crc32(view[: total - 4]) != message_crc:
                raise EventStreamError("event stream message CRC mismatch")
            headers = _headers(bytes(view[_PRELUDE : _PRELUDE + headers_len]))
            out.append(EventMessage(headers, bytes(view[_PRELUDE + headers_len : total - 4])))
            view.release()
            start += total
        if start:
            del buffer[:start]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an unfinished message (a stream that ends with some was cut)."""
        return len(self._buffer)


def _headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    i, end = 0, len(raw)
    try:
        while i < end:
            name_len = raw[i]
            name = raw[i + 1 : i + 1 + name_len].decode()
            i += 1 + name_len
            kind = raw[i]
            i += 1
            if kind in (6, 7):
                (size,) = struct.unpack_from(">H", raw, i)
                value = raw[i + 2 : i + 2 + size]
                i += 2 + size
                headers[name] = value.decode("utf-8", "replace")
            elif kind in _FIXED:
                size = _FIXED[kind]
                headers[name] = (
                    "true" if kind == 0 else "false" if kind == 1 else raw[i : i + size].hex()
                )
                i += size
            else:
                raise EventStreamError(f"unknown event stream header type {kind}")
            if i > end:
                raise EventStreamError("an event stream header runs past its block")
    except (IndexError, struct.error, UnicodeDecodeError):
        raise EventStreamError("malformed event stream headers") from None
    return headers


class MessageEncoder:
    """Messages that all carry the same string headers (a stream's `chunk`s): the header block
    is encoded once, so each message costs its two CRCs and a join."""

    __slots__ = ("_block",)

    def __init__(self, headers: dict[str, str]) -> None:
        self._block = b"".join(
            bytes([len(n := name.encode())])
            + n
            + b"\x07"
            + struct.pack(">H", len(v := value.encode()))
            + v
            for name, value in headers.items()
        )

    def __call__(self, payload: bytes) -> bytes:
        block = self._block
        prelude = struct.pack(">II", _MIN_MESSAGE + len(block) + len(payload), len(block))
        message = prelude + struct.pack(">I", zlib.crc32(prelude)) + block + payload
        return message + struct.pack(">I", zlib.crc32(message))


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (what Bedrock sends; the tests' scripted server too)."""
    return MessageEncoder(headers)(payload)
