"""The ledger's journal: a local append-only file of usage rows the database did not take (it was
down, or its disk full), replayed into the database when it answers again.

One JSON line per row (msgspec), fsync'd per batch, so a row the gateway served is on disk
before the writer moves on. Every process of a host may share one journal file (`serve
--workers N`): each append and each replay holds an exclusive `flock` on it, so a replay that
empties the file never loses a row another process appended in between. Replays are idempotent
(the ledger's `request_id` is unique and inserts ignore a row already there), so a replay cut
short by a crash or a database that went down again is simply done again.

Rows that the database refuses even alone, with the database up, are not the journal's (they
would be refused at every replay): they go to `<journal>.rejected`, in the same format, for the
operator to look at. None should ever be written: every string is bounded and cleaned when the
row is built (usage.py)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import msgspec

from switchboard.config import data_dir
from switchboard.tenancy.usage import UsageRow

REJECTED_SUFFIX = ".rejected"


def default_journal_path(database_url: str) -> Path:
    """Beside the SQLite database; in the data directory for other databases (where the
    master key file goes too)."""
    prefix = "sqlite:///"
    for scheme in (prefix, "sqlite+aiosqlite:///"):
        if database_url.startswith(scheme):
            db = Path(database_url.removeprefix(scheme))
            return db.with_name(db.name + ".ledger-journal")
    return data_dir() / "switchboard.ledger-journal"


class Chunk(msgspec.Struct, frozen=True):
    """Rows read from the journal, and the lines that did not decode (kept, never dropped)."""

    rows: list[UsageRow]
    bad_lines: list[bytes]
    end: int  # the file offset after the last whole line read


class Journal:
    """Blocking file operations: the writer runs them in a thread (`asyncio.to_thread`), so an
    fsync on a slow disk never holds up the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected_path = path.with_name(path.name + REJECTED_SUFFIX)
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(UsageRow)

    def size(self) -> int:
        """Bytes waiting to be replayed (0 when there is no journal file)."""
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def append(self, rows: Sequence[UsageRow]) -> None:
        """Appends and fsyncs; raises OSError when the file cannot take the rows (the caller
        then keeps them)."""
        self._append(self.path, self._lines(rows))

    def reject(self, rows: Sequence[UsageRow], raw_lines: Sequence[bytes] = ()) -> None:
        raw = [line + b"\n" for line in raw_lines]
        self._append(self.rejected_path, [*self._lines(rows), *raw])

    def _lines(self, rows: Iterable[UsageRow]) -> list[bytes]:
        return [self._encoder.encode(row) + b"\n" for row in rows]

    @staticmethod
    def _append(path: Path, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = b"".join(lines)
            # A write may be short (a disk nearly full): what was written stays, the rest
            # raises, and the caller keeps the whole batch (a replay ignores repeated rows).
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock

    @contextmanager
    def replaying(self) -> Iterator[int | None]:
        """Holds the journal exclusively while it is replayed: the open descriptor, or None when
        there is nothing to replay or another process is replaying it now."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            yield None
            return  # (any other error is the caller's: the rows stay where they are)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            yield fd
        finally:
            os.close(fd)

    def read(self, fd: int, offset: int, max_bytes: int = 1 << 20) -> Chunk:
        """The whole lines from `offset`, about `max_bytes` of them. A last line with no
        newline (a write cut by a crash) is read as a bad line once the file ends there."""
        data = os.pread(fd, max_bytes, offset)
        if not data:
            return Chunk([], [], offset)
        whole = data.rfind(b"\n") + 1
        if whole == 0:
            if len(data) < max_bytes:  # the file's end: a torn last line
                return self._decode([data], offset + len(data))
            whole = len(data)  # one line longer than max_bytes: not a row of ours
        return self._decode(data[:whole].splitlines(), offset + whole)

    def _decode(self, lines: list[bytes], end: int) -> Chunk:
        rows: list[UsageRow] = []
        bad: list[bytes] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                rows.append(self._decoder.decode(line))
            except msgspec.DecodeError:
                bad.append(line)
        return Chunk(rows, bad, end)

    @staticmethod
    def clear(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def pending_spend(self, key_id: str, since: datetime | None, team: bool = False) -> int | None:
        """What the key's (with `team`: the team's) rows still in the journal cost (nano-USD),
        for seeding a budget; None
        while a replay holds the journal (ask again: a thread never waits for the lock, so
        waiting callers cannot take every worker thread the replay needs)."""
        if self.size() == 0:
            return 0
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        total = 0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            offset = 0
            while True:
                chunk = self.read(fd, offset)
                if chunk.end == offset:
                    return total
                offset = chunk.end
                for row in chunk.rows:
                    owner = row.team_id if team else row.key_id
                    if owner == key_id and (since is None or row.at >= since):
                        total += row.cost_nusd
        finally:
            os.close(fd)
