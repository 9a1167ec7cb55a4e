"""The request record and what is derived from it: the ledger row and the access line (one
function each), and settlement's explicit outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from switchboard import ir
from switchboard.config import Pricing
from switchboard.log import access_fields
from switchboard.record import FAILED, Cut, RequestRecord, Served, charged
from switchboard.tenancy.admission import Ticket
from switchboard.tenancy.usage import INT32, INT64, UNKNOWN_MODEL, UsageRow, ledger_row

AT = datetime(2026, 1, 2, tzinfo=UTC)


def served_record() -> RequestRecord:
    record = RequestRecord(key_id="k1", key_name="ci", model="claude-x", stream=False)
    record.session = "6a0f1e2d-3c4b-4a59-8e7d-1f2a3b4c5d6e"
    # A provider name and an upstream model that both hold a slash: kept apart, never parsed.
    record.serve("test/model", "my/provider", "Qwen/Qwen3-8B", "my/provider/Qwen/Qwen3-8B")
    record.usage = ir.Usage(input_tokens=10, output_tokens=4, cache_read_tokens=2)
    record.cost_nusd = 123
    record.failovers = 1
    record.dropped += ["top_k", "seed", "top_k"]
    return record


def test_the_ledger_row_is_a_function_of_the_record() -> None:
    row = ledger_row(served_record(), AT, "req_1", 200, 12.5, lambda name: False)
    assert row is not None
    assert (row.provider, row.upstream_model) == ("my/provider", "Qwen/Qwen3-8B")
    assert row.channel == "my/provider/Qwen/Qwen3-8B"
    assert (row.model, row.key_id, row.status, row.latency_ms) == ("claude-x", "k1", 200, 12.5)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (10, 4, 2)
    assert (row.cost_nusd, row.failovers, row.retries) == (123, 1, 0)
    assert row.dropped == "top_k; seed"
    assert row.session == "6a0f1e2d-3c4b-4a59-8e7d-1f2a3b4c5d6e"
    assert row.error_type is None


def test_no_key_no_row_and_an_unserved_unknown_model_is_not_stored() -> None:
    assert ledger_row(RequestRecord(), AT, "r", 401, 1.0, lambda name: True) is None
    record = RequestRecord(key_id="k1", model="\x00 anything a client sent")
    record.failed("not_found_error", "model: ...")
    row = ledger_row(record, AT, "r", 404, 1.0, lambda name: False)
    assert row is not None
    assert (row.model, row.channel, row.error_type, row.dropped, row.session) == (
        UNKNOWN_MODEL,
        "",
        "not_found_error",
        None,
        None,
    )


def test_the_dropped_column_is_bounded_and_cleaned() -> None:
    record = served_record()
    record.dropped = ["bad\x00name", "x" * 5000]
    row = ledger_row(record, AT, "r", 200, 1.0, lambda name: True)
    assert row is not None
    assert row.dropped is not None
    assert len(row.dropped) == 2048
    assert row.dropped.startswith("badname; xxx")


def test_the_access_line_is_a_function_of_the_record() -> None:
    line = access_fields(served_record(), "req_1", "POST", "/v1/messages", 200, 12.5)
    assert line == {
        "request_id": "req_1",
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "latency_ms": 12.5,
        "key": "ci",
        "key_id": "k1",
        "model": "claude-x",
        "stream": False,
        "session": "6a0f1e2d-3c4b-4a59-8e7d-1f2a3b4c5d6e",
        "model_id": "test/model",
        "channel": "my/provider/Qwen/Qwen3-8B",
        "failovers": 1,
        "dropped": ["top_k", "seed"],
        "input_tokens": 10,
        "output_tokens": 4,
        "cache_read_tokens": 2,
        "cost_nusd": 123,
    }
    bare = access_fields(RequestRecord(), "r", "GET", "/v1/models", 401, 0.5)
    assert bare == {
        "request_id": "r",
        "method": "GET",
        "path": "/v1/models",
        "status": 401,
        "latency_ms": 0.5,
    }


def test_settlement_charges_what_the_outcome_says() -> None:
    usage = ir.Usage(input_tokens=1000, output_tokens=500)
    assert charged(Served(usage)) is usage
    assert charged(Cut(usage, delivered=3)) is usage
    assert charged(FAILED) is None
    pricing = Pricing(input=1.0, output=2.0)

    async def settle_each() -> list[int]:
        return [
            (await Ticket(pricing).settle(Served(usage))).total_nusd,
            (await Ticket(pricing).settle(Cut(usage, delivered=3))).total_nusd,
            (await Ticket(pricing).settle(FAILED)).total_nusd,
        ]

    assert asyncio.run(settle_each()) == [2000_000, 2000_000, 0]


# Each count column and its range (storage/tables.py: INTEGER or BIGINT).
COUNTS = {
    "input_tokens": INT32,
    "output_tokens": INT32,
    "cache_read_tokens": INT32,
    "cache_write_tokens": INT32,
    "status": INT32,
    "failovers": INT32,
    "retries": INT32,
    "web_search_requests": INT32,
    "web_fetch_requests": INT32,
    "cost_nusd": INT64,
    "web_search_nusd": INT64,
}


@pytest.mark.parametrize("field", sorted(COUNTS))
def test_every_count_of_a_row_is_held_to_its_column(field: str) -> None:
    """A count past its column's range would fail the insert of the whole batch: the row is
    clamped when it is built, whichever count it is."""
    row = ledger_row(served_record(), AT, "req_1", 200, 12.5, lambda name: False)
    assert row is not None
    values = {f: getattr(row, f) for f in UsageRow.__struct_fields__}
    top = COUNTS[field]
    assert getattr(UsageRow(**{**values, field: top + 1}), field) == top
    assert getattr(UsageRow(**{**values, field: -top - 7}), field) == -top
    assert getattr(UsageRow(**{**values, field: top}), field) == top
