"""What every surface reports about a served request: the response headers (channel, loss
report, rate-limit state) and the request-log facts the usage ledger is built from."""

from __future__ import annotations

from switchboard import ir
from switchboard.api.exchange import Exchange
from switchboard.service import Served


def served_headers(served: Served) -> list[tuple[bytes, bytes]]:
    headers = [(b"switchboard-channel", served.channel.encode("ascii", "replace")), *served.headers]
    if served.dropped:
        # The loss report: everything translation dropped or changed, deduplicated, in order.
        report = "; ".join(dict.fromkeys(served.dropped))
        headers.append((b"switchboard-dropped", report.encode("ascii", "replace")))
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
