"""What a request cost, and the usage ledger's row: one per request, bounded and cleaned when it
is built. The writer that stores rows is in recorder.py."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

import msgspec

from switchboard import ir
from switchboard.config import Pricing
from switchboard.record import RequestRecord

PER_MILLION_TO_NANO = 1_000  # USD per million tokens -> nano-USD per token


def cost_nusd(pricing: Pricing, usage: ir.Usage) -> int:
    """The price of `usage` in nano-USD, rounded up so that a budget is never undercounted."""
    nano = PER_MILLION_TO_NANO * (
        pricing.input * usage.input_tokens + pricing.output * usage.output_tokens
    )
    if usage.cache_read_tokens or usage.cache_write_tokens:  # (most replies: neither)
        nano += PER_MILLION_TO_NANO * (
            pricing.cache_read_price * usage.cache_read_tokens
            + pricing.cache_write_price * usage.cache_write_tokens
        )
    return math.ceil(round(nano, 6))


def discounted(pricing: Pricing, discount: float) -> Pricing:
    """The prices with `discount` (a fraction) taken off: what batch requests are billed. A
    cache price not given stays so: it follows the discounted input price."""
    keep = 1.0 - discount
    return Pricing(
        input=pricing.input * keep,
        output=pricing.output * keep,
        cache_read=None if pricing.cache_read is None else pricing.cache_read * keep,
        cache_write=None if pricing.cache_write is None else pricing.cache_write * keep,
    )


def worst_case_nusd(pricing: Pricing, input_estimate: int, max_tokens: int) -> int:
    """What a request may cost at most: its whole input at the dearest input price (fresh,
    cache read or cache write, as `cost_nusd` prices them), and every output token it is
    allowed."""
    dearest = max(pricing.input, pricing.cache_read_price, pricing.cache_write_price)
    nano = PER_MILLION_TO_NANO * (dearest * input_estimate + pricing.output * max_tokens)
    return math.ceil(round(nano, 6))


# The usage table's column sizes (storage/ledger.py checks them against storage/tables.py).
TEXT_LIMITS = {
    "request_id": 64,
    "key_id": 64,
    "model": 200,
    "provider": 200,
    "channel": 400,
    "upstream_model": 200,
    "error_type": 64,
    "dropped": 2048,
    "session": 64,
    "team_id": 64,
    "batch_id": 64,
}
NO_USAGE = ir.Usage()
INT32 = 2**31 - 1
INT64 = 2**63 - 1
# What the ledger stores for a model name that is not in the catalogue: a client can send any
# text there, and a ledger (and its per-model report) is no place for text nobody configured.
# The name as sent is in the access log, bounded like every log field.
UNKNOWN_MODEL = "(unknown)"


def bounded(text: str, limit: int) -> str:
    """`text` as a database column can hold it: printable characters only (no NUL, no control
    or format characters, no lone surrogates), at most `limit` of them."""
    if len(text) <= limit and text.isprintable():
        return text
    kept = [ch for ch in text[: limit * 4] if ch.isprintable()]  # the scan is bounded too
    return "".join(kept[:limit])


def _clamp(value: int, top: int) -> int:
    return value if -top <= value <= top else max(-top, min(top, value))


# A Struct, not a dataclass: its __init__ is msgspec's C, not thirty Python stores per request.
class UsageRow(msgspec.Struct):
    """One ledger row. Every string is bounded to its column and cleaned, every integer
    clamped to its column, when the row is built: no row can fail the insert of a batch."""

    at: datetime
    request_id: str
    key_id: str
    model: str
    provider: str
    channel: str
    upstream_model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_nusd: int
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    status: int
    error_type: str | None
    client_disconnected: bool
    failovers: int = 0  # other channels tried before the one that served (or failed last)
    retries: int = 0  # rounds of back-off after every channel had failed
    # The loss report: what translation dropped or changed (`; `-separated), None: nothing.
    dropped: str | None = None
    # Server tools the gateway ran (servertools/): searches are priced per use.
    web_search_requests: int = 0
    web_fetch_requests: int = 0
    web_search_nusd: int = 0  # what the searches cost: part of `cost_nusd`, shown apart
    # The client's session (Claude Code's), already validated (api/session.py); None: none.
    session: str | None = None
    team_id: str | None = None  # the key's team, charged with it (None: none)
    batch_id: str | None = None  # the batch it was a request of (ids are the gateway's own)

    def __post_init__(self) -> None:
        # The usual row passes one check (it runs once per request, so the columns are
        # checked a group at a time, in C: the 64-character texts by the longest, every text
        # printable at once, the counts by the least and the greatest).
        short = (
            self.request_id,
            self.key_id,
            self.error_type or "",
            self.session or "",
            self.team_id or "",
            self.batch_id or "",
        )
        counts = (
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.status,
            self.failovers,
            self.retries,
            self.web_search_requests,
            self.web_fetch_requests,
        )
        dropped = self.dropped or ""
        if (
            max(map(len, short)) <= 64
            and max(len(self.model), len(self.provider), len(self.upstream_model)) <= 200
            and len(self.channel) <= 400
            and len(dropped) <= 2048
            and "".join(
                (*short, self.model, self.provider, self.upstream_model, self.channel, dropped)
            ).isprintable()
            and min(counts) >= 0
            and max(counts) <= INT32
            and 0 <= self.cost_nusd <= INT64
            and 0 <= self.web_search_nusd <= INT64
        ):
            return
        self._clean()

    def _clean(self) -> None:
        self.request_id = bounded(self.request_id, 64)
        self.key_id = bounded(self.key_id, 64)
        self.model = bounded(self.model, 200)
        self.provider = bounded(self.provider, 200)
        self.channel = bounded(self.channel, 400)
        self.upstream_model = bounded(self.upstream_model, 200)
        if self.error_type is not None:
            self.error_type = bounded(self.error_type, 64)
        if self.dropped is not None:
            self.dropped = bounded(self.dropped, 2048)
        if self.session is not None:
            self.session = bounded(self.session, 64)
        if self.team_id is not None:
            self.team_id = bounded(self.team_id, 64)
        if self.batch_id is not None:
            self.batch_id = bounded(self.batch_id, 64)
        self.input_tokens = _clamp(self.input_tokens, INT32)
        self.output_tokens = _clamp(self.output_tokens, INT32)
        self.cache_read_tokens = _clamp(self.cache_read_tokens, INT32)
        self.cache_write_tokens = _clamp(self.cache_write_tokens, INT32)
        self.cost_nusd = _clamp(self.cost_nusd, INT64)
        self.status = _clamp(self.status, INT32)
        self.failovers = _clamp(self.failovers, INT32)
        self.retries = _clamp(self.retries, INT32)
        self.web_search_requests = _clamp(self.web_search_requests, INT32)
        self.web_fetch_requests = _clamp(self.web_fetch_requests, INT32)
        self.web_search_nusd = _clamp(self.web_search_nusd, INT64)


def ledger_row(
    record: RequestRecord,
    at: datetime,
    request_id: str,
    status: int,
    latency_ms: float,
    known_model: Callable[[str], bool],
) -> UsageRow | None:
    """The ledger row of a request, from its record (the access line's source too); None when
    the request never got as far as an identified key.

    The row is charged what the key's limiter was charged (`cost_nusd`, from the settlement):
    a stream cut by the client or by shutdown pays for what was delivered, a failed one
    nothing. A requested model name is stored only if it is a catalogue name."""
    key_id = record.key_id
    if key_id is None:
        return None
    model = record.model
    if model is None or (record.model_id is None and not known_model(model)):
        model = UNKNOWN_MODEL
    usage = record.usage or NO_USAGE
    return UsageRow(
        at=at,
        request_id=request_id,
        key_id=key_id,
        model=model,
        provider=record.provider,
        channel=record.channel,
        upstream_model=record.upstream_model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_nusd=record.cost_nusd,
        latency_ms=latency_ms,
        ttft_ms=record.ttft_ms,
        stream=bool(record.stream),
        status=status,
        error_type=record.error_type,
        client_disconnected=record.client_disconnected,
        failovers=record.failovers,
        retries=record.retries,
        dropped="; ".join(dict.fromkeys(record.dropped)) if record.dropped else None,
        web_search_requests=usage.web_search_requests,
        web_fetch_requests=usage.web_fetch_requests,
        web_search_nusd=record.search_nusd,
        session=record.session,
        team_id=record.team_id,
        batch_id=record.batch_id,
    )
