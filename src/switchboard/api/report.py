"""What every surface reports about a served request: the response headers (channel, loss
report, rate-limit state) and the request-log facts the usage ledger is built from."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from switchboard import ir
from switchboard.api.exchange import Exchange
from switchboard.service import Served

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


def served_headers(served: Served) -> list[tuple[bytes, bytes]]:
    headers = [(b"switchboard-channel", served.channel.encode("ascii", "replace")), *served.headers]
    if served.dropped:
        # The loss report: everything translation dropped or changed.
        headers.append((b"switchboard-dropped", dropped_header(served.dropped)))
    return headers


def note_served(ex: Exchange, served: Served) -> None:
    ex.log["model_id"] = served.model
    ex.log["channel"] = served.channel
    if served.failovers:
        ex.log["failovers"] = served.failovers
    if served.retries:
        ex.log["retries"] = served.retries
    if served.dropped:
        ex.log["dropped"] = list(dict.fromkeys(served.dropped))


def note_usage(ex: Exchange, usage: ir.Usage, cost_nusd: int) -> None:
    ex.log["input_tokens"] = usage.input_tokens
    ex.log["output_tokens"] = usage.output_tokens
    if usage.cache_read_tokens:
        ex.log["cache_read_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        ex.log["cache_write_tokens"] = usage.cache_write_tokens
    ex.log["cost_nusd"] = cost_nusd
