"""Everything per-key, built once from the config: the database, the key cache, the limiter
(in-process, or Redis when `redis:` is set), admission, and the ledger writer."""

from __future__ import annotations

from datetime import datetime

from switchboard.admission import Admission
from switchboard.config import Config
from switchboard.key_admin import KeyAdmin
from switchboard.keys import KeyCache
from switchboard.limits import Limiter
from switchboard.limits.leases import Leases
from switchboard.limits.memory import MemoryLimiter
from switchboard.storage import Storage
from switchboard.usage import LedgerWriter


class Tenancy:
    def __init__(self, config: Config) -> None:
        self.storage = Storage(config.database)
        self.keys = KeyCache(self.storage.keys, config.key_cache_seconds)
        self.limiter: Limiter
        if config.redis:
            from switchboard.limits.redis import RedisLimiter

            self.limiter = RedisLimiter(config.redis, config.redis_prefix)
        else:
            self.limiter = MemoryLimiter()
        self.leases = Leases(self.limiter)
        self.admission = Admission(self.limiter, self._spent, self.leases)
        self.admin = KeyAdmin(self.storage.keys, self.keys)
        self.ledger = LedgerWriter(self.storage.ledger)

    async def _spent(self, key_id: str, since: datetime | None) -> int:
        return await self.storage.ledger.spent_since(key_id, since)

    async def start(self) -> None:
        await self.storage.upgrade()
        self.ledger.start()
        self.leases.start()

    async def stop(self) -> None:
        """Flushes the ledger before closing anything it writes through."""
        try:
            await self.leases.stop()
            await self.ledger.stop()
        finally:
            await self.limiter.close()
            await self.storage.close()
