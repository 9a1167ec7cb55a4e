"""The ledger writer against the real databases: a refused row never takes others with it, the
journal is replayed exactly once, and what a crash leaves in it is kept, never dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.storage import Storage, UsageFilter
from switchboard.storage.journal import Journal
from switchboard.tenancy.recorder import LedgerWriter
from switchboard.tenancy.usage import TEXT_LIMITS, UsageRow

T = TypeVar("T")


def row(n: int, key_id: str = "k", model: str = "demo") -> UsageRow:
    return UsageRow(
        at=datetime.now(UTC),
        request_id=f"req_{key_id}_{n}",
        key_id=key_id,
        model=model,
        provider="demo",
        channel="demo/demo",
        upstream_model="demo",
        input_tokens=10,
        output_tokens=5,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cost_nusd=100,
        latency_ms=1.0,
        ttft_ms=None,
        stream=False,
        status=200,
        error_type=None,
        client_disconnected=False,
    )


def run(url: str, work: Callable[[Storage], Awaitable[T]]) -> T:
    async def main() -> T:
        storage = Storage(url)
        try:
            await storage.upgrade()
            return await work(storage)
        finally:
            await storage.close()

    return asyncio.run(main())


async def stored(s: Storage) -> list[str]:
    return sorted(r["request_id"] for r in await s.ledger.rows(UsageFilter(), limit=10_000))


def test_a_refused_row_is_isolated_and_kept_the_rest_written(
    database_url: str, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "j")

    async def work(s: Storage) -> list[str]:
        writer = LedgerWriter(s.ledger, journal, linger=0.2)
        await writer.start()
        rows = [row(i) for i in range(40)]
        # Past what the row's construction allows: only a bug could make such a row.
        rows[7].input_tokens = 2**70
        rows[30].cost_nusd = -(2**70)
        for r in rows:
            writer.record(r)
        await writer.stop()
        assert (writer.stats.written, writer.stats.rejected) == (38, 2)
        assert writer.accepting
        return await stored(s)

    assert run(database_url, work) == sorted(f"req_k_{i}" for i in range(40) if i not in (7, 30))
    assert journal.size() == 0
    kept = journal.rejected_path.read_bytes().splitlines()
    assert [b'"req_k_7"' in kept[0], b'"req_k_30"' in kept[1]] == [True, True]


def test_the_journal_is_replayed_once_and_a_torn_line_is_kept(
    database_url: str, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "j")
    journal.append([row(i) for i in range(5)])
    with journal.path.open("ab") as f:
        f.write(b'{"at":"2026-01-01T00:00:00Z","request_id":"req_torn"')  # a crash mid-write

    async def work(s: Storage) -> list[str]:
        await s.ledger.write([row(0), row(1)])  # already stored before a crash
        for _ in range(2):  # a second start finds nothing left to replay
            writer = LedgerWriter(s.ledger, journal)
            await writer.start()
            await writer.stop()
        return await stored(s)

    assert run(database_url, work) == [f"req_k_{i}" for i in range(5)]
    assert journal.size() == 0
    assert b"req_torn" in journal.rejected_path.read_bytes()


def test_journal_pending_spend_counts_a_keys_rows_since(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    assert journal.pending_spend("k", None) == 0
    journal.append([row(1), row(2), row(3, key_id="other")])
    assert journal.pending_spend("k", None) == 200
    assert journal.pending_spend("k", datetime(2999, 1, 1, tzinfo=UTC)) == 0


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.text(max_size=600), st.sampled_from(sorted(TEXT_LIMITS)))
def test_every_string_of_a_row_is_bounded_and_printable(text: str, field: str) -> None:
    r = row(1)
    kept = UsageRow(**{**{f: getattr(r, f) for f in UsageRow.__struct_fields__}, field: text})
    value = getattr(kept, field)
    assert len(value) <= TEXT_LIMITS[field]
    assert value.isprintable()
    value.encode("utf-8")  # no lone surrogate
    if len(text) <= TEXT_LIMITS[field] and text.isprintable():
        assert value == text


def test_a_row_recorded_after_stop_goes_to_the_journal_and_is_replayed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")

    async def work(s: Storage) -> list[str]:
        writer = LedgerWriter(s.ledger, journal)
        await writer.start()
        writer.record(row(1))
        await writer.stop()  # row 1 is written on the way out
        writer.record(row(2))  # a request cut at shutdown, ending after the writer
        assert journal.size() > 0
        assert await stored(s) == ["req_k_1"]
        again = LedgerWriter(s.ledger, journal)
        await again.start()
        await again.stop()
        assert again.stats.replayed == 1
        return await stored(s)

    assert run(f"sqlite:///{tmp_path}/sb.db", work) == ["req_k_1", "req_k_2"]
    assert journal.size() == 0


def test_one_replay_at_a_time_and_spend_is_not_read_halfway(tmp_path: Path) -> None:
    """Workers of one host share the journal: a replay holds it; the others wait their turn."""
    mine, theirs = Journal(tmp_path / "j"), Journal(tmp_path / "j")
    mine.append([row(1)])
    with mine.replaying() as fd:
        assert fd is not None
        with theirs.replaying() as other:
            assert other is None
        assert theirs.pending_spend("k", None) is None  # ask again after the replay
    theirs.append([row(2)])  # (an append waits for a replay to end)
    assert theirs.pending_spend("k", None) == 200
