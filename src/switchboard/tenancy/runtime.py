"""Everything per-key, built once from the config: the database, the key cache and the feed of
key changes that keeps it true, the limiter (in-process, or Redis when `redis:` is set),
admission, and the ledger writer."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from switchboard.config import Config
from switchboard.limits import Limiter
from switchboard.limits.leases import Leases
from switchboard.limits.memory import MemoryLimiter
from switchboard.log import events as log
from switchboard.storage import Storage
from switchboard.storage.journal import Journal, default_journal_path
from switchboard.tenancy.admin import KeyAdmin
from switchboard.tenancy.admission import Admission
from switchboard.tenancy.changes import key_changes
from switchboard.tenancy.keys import KeyCache
from switchboard.tenancy.recorder import LedgerWriter


class Tenancy:
    def __init__(self, config: Config) -> None:
        self.storage = Storage(config.database)
        self.keys = KeyCache(self.storage.keys, config.key_cache_seconds)
        self.key_changes = key_changes(config)
        self._watchers: list[asyncio.Task[None]] = []
        self.limiter: Limiter
        if config.redis:
            from switchboard.limits.redis import RedisLimiter

            self.limiter = RedisLimiter(config.redis, config.redis_prefix)
        else:
            self.limiter = MemoryLimiter()
        self.leases = Leases(self.limiter)
        self.admission = Admission(self.limiter, self._spent, self.leases, self._team_spent)
        self.admin = KeyAdmin(self.storage.keys, self.keys, self.key_changes, self.storage.teams)
        journal = Path(config.ledger_journal or default_journal_path(config.database))
        self.ledger = LedgerWriter(self.storage.ledger, Journal(journal))

    async def _team_spent(self, team_id: str, since: datetime | None) -> int:
        return await self._spent(team_id, since, team=True)

    async def _spent(self, key_id: str, since: datetime | None, team: bool = False) -> int:
        """A key's (or team's) spend in a period: the ledger's rows, and those waiting in its
        journal."""
        journal = self.ledger.journal
        while True:
            waiting = journal.size()
            stored = await self.storage.ledger.spent_since(key_id, since, team)
            if journal.size() == 0:
                if waiting == 0:
                    return stored
                continue  # replayed meanwhile: those rows may have reached the ledger late
            pending = await asyncio.to_thread(journal.pending_spend, key_id, since, team)
            if pending is not None:
                return stored + pending
            await asyncio.sleep(0.05)  # being replayed: the ledger will have those rows

    async def start(self) -> None:
        await self.storage.upgrade()
        await self.keys.reload()
        self._watchers = [
            asyncio.create_task(self.keys.run(), name="key-cache-reload"),
            asyncio.create_task(self.key_changes.watch(self.keys), name="key-changes"),
        ]
        await self.ledger.start()  # replays the journal before any budget is seeded
        self.leases.start()

    async def stop(self) -> None:
        """Flushes the ledger before closing anything it writes through."""
        try:
            await self.leases.stop()
            await self.ledger.stop()
        finally:
            for task in self._watchers:
                task.cancel()
            for ended in await asyncio.gather(*self._watchers, return_exceptions=True):
                if not isinstance(ended, asyncio.CancelledError | None):
                    log.error("the key-change watcher had failed: %r", ended)
            await self.key_changes.close()
            await self.limiter.close()
            await self.storage.close()
