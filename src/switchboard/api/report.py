"""What every surface tells the client about a served request: the response headers (channel,
loss report, rate-limit state), and the loss report of a stream after its head (an SSE
comment)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from switchboard.record import RequestRecord

# The loss report names what the client sent (tool names and types, schema keywords): each
# entry is percent-encoded (anything but visible ASCII, and `%` and the `;` that separates
# entries), and the header is bounded; the request log keeps the whole list.
MAX_ENTRY_CHARS = 200
MAX_DROPPED_BYTES = 2048
_VISIBLE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "%;")


def _entry(text: str) -> str:
    if len(text) > MAX_ENTRY_CHARS:
        text = text[:MAX_ENTRY_CHARS] + "..."
    if text.isascii() and text.isprintable() and "%" not in text and ";" not in text:
        return text  # nearly always: the report's own words
    return quote(text, safe=_VISIBLE)


def dropped_header(dropped: Iterable[str]) -> bytes:
    """The `switchboard-dropped` value: the entries, deduplicated and in order, escaped, and
    cut (saying how many more there were) where the header would pass its bound."""
    entries = list(dict.fromkeys(dropped))
    out: list[str] = []
    size = 0
    for i, entry in enumerate(entries):
        text = _entry(entry)
        if size + len(text) + 2 > MAX_DROPPED_BYTES - 40:  # room for the marker
            out.append(f"... {len(entries) - i} more in the request log")
            break
        out.append(text)
        size += len(text) + 2
    return "; ".join(out).encode("ascii")


def served_headers(record: RequestRecord) -> list[tuple[bytes, bytes]]:
    headers = [(b"switchboard-channel", record.channel.encode("ascii", "replace")), *record.headers]
    if record.dropped:
        # The loss report: everything translation dropped or changed.
        headers.append((b"switchboard-dropped", dropped_header(record.dropped)))
    return headers


def dropped_comment(dropped: Iterable[str]) -> bytes:
    """What a stream drops after its head was sent, told in the stream itself: an SSE comment
    line (every SSE client skips it), escaped and bounded like the header."""
    return b": switchboard-dropped " + dropped_header(dropped) + b"\n\n"
