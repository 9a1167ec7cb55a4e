"""Everything per-key, built once from the config: the database, the key cache and the feed of
key changes that keeps it true, the limiter (in-process, or Redis when `redis:` is set),
admission, and the ledger writer."""

from __future__ import annotations

import asyncio
from datetime import datetime

from switchboard.admission import Admission
from switchboard.config import Config
from switchboard.key_admin import KeyAdmin
from switchboard.key_changes import key_changes
from switchboard.keys import KeyCache
from switchboard.limits import Limiter
from switchboard.limits.leases import Leases
from switchboard.limits.memory import MemoryLimiter
from switchboard.log import events as log
from switchboard.storage import Storage
from switchboard.usage import LedgerWriter


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
        self.admission = Admission(self.limiter, self._spent, self.leases)
        self.admin = KeyAdmin(self.storage.keys, self.keys, self.key_changes)
        self.ledger = LedgerWriter(self.storage.ledger)

    async def _spent(self, key_id: str, since: datetime | None) -> int:
        return await self.storage.ledger.spent_since(key_id, since)

    async def start(self) -> None:
        await self.storage.upgrade()
        await self.keys.reload()
        self._watchers = [
            asyncio.create_task(self.keys.run(), name="key-cache-reload"),
            asyncio.create_task(self.key_changes.watch(self.keys), name="key-changes"),
        ]
        self.ledger.start()
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
