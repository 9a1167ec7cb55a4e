"""The record of one request: who asked, for which model, which channel served it, what it used
and cost, how long it took, how it ended and what translation dropped. The handlers and the
pipeline fill it; the access log line (`log.access_fields`), the metrics (`Metrics.observe`)
and the ledger row (`tenancy.usage.ledger_row`) are each one function of it.

How a request ends for billing is an explicit `Settlement`, never read back out of a log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import assert_never

import msgspec

from switchboard import ir

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)  # not frozen: filled as the request goes, and frozen inits are slow
class RequestRecord:
    # Who: set once the key is authenticated.
    key_id: str | None = None
    key_name: str | None = None
    team_id: str | None = None  # the key's team, charged with it
    # Which model: the name the client sent, and the catalogue id it resolved to (set when a
    # channel served it).
    model: str | None = None
    stream: bool | None = None
    # The client's session (Claude Code's session id, validated: api/session.py), for cost by
    # session.
    session: str | None = None
    model_id: str | None = None
    # Which channel served it: the provider and the upstream's own model name, and the
    # channel's name as the operator sees it (`provider/model`), kept apart, never parsed.
    provider: str = ""
    upstream_model: str = ""
    channel: str = ""
    failovers: int = 0  # attempts moved to another channel (or key) after a failure
    retries: int = 0  # attempts on the same channel again, after a back-off
    # What translation dropped or changed (the loss report), in the order it was noticed.
    dropped: list[str] = field(default_factory=list)
    # What it used and cost (None: it never got as far as an answer).
    usage: ir.Usage | None = None
    cost_nusd: int = 0
    search_nusd: int = 0  # what its web searches cost, part of cost_nusd
    ttft_ms: float | None = None  # streams: when the first chunk was sent
    error_type: str | None = None
    error: str | None = None  # the message, for the log only
    client_disconnected: bool = False
    batch_id: str | None = None  # a batch's request, run by its worker (billed at a discount)
    # The pipeline's own: the uncalibrated input estimate (to calibrate against real usage)
    # and the key's rate-limit state (response headers).
    estimate: int = 0
    headers: Sequence[tuple[bytes, bytes]] = ()

    def serve(self, model_id: str, provider: str, upstream_model: str, channel: str) -> None:
        self.model_id = model_id
        self.provider = provider
        self.upstream_model = upstream_model
        self.channel = channel

    def charge(self, charge: Charge) -> None:
        self.cost_nusd = charge.total_nusd
        self.search_nusd = charge.search_nusd

    def failed(self, error_type: str, message: str) -> None:
        """The first failure is the one reported."""
        if self.error_type is None:
            self.error_type = error_type
            self.error = message


# How a request ended, as settlement charges it.


class Served(msgspec.Struct, frozen=True):
    """Answered in full: charged its usage."""

    usage: ir.Usage


class Cut(msgspec.Struct, frozen=True):
    """A stream the client left (or shutdown ended) after `delivered` chunks: charged what the
    upstream generated until then."""

    usage: ir.Usage
    delivered: int


class Failed(msgspec.Struct, frozen=True):
    """Failed (or asked nothing of a model): costs nothing."""


FAILED = Failed()

Settlement = Served | Cut | Failed


class Charge(msgspec.Struct, frozen=True):
    """What settlement charged a request, in nano-USD: the total, and the part of it its web
    searches cost (shown apart in the usage report)."""

    total_nusd: int = 0
    search_nusd: int = 0


def charged(outcome: Settlement) -> ir.Usage | None:
    """The usage an outcome is charged for; None: nothing."""
    match outcome:
        case Served(usage) | Cut(usage, _):
            return usage
        case Failed():
            return None
        case _:
            assert_never(outcome)
