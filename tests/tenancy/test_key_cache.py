"""The key cache's lookups on a real database: one query per key however many requests need it
at once, a busy key read again before its TTL ends (never served past it), and a change that
is never hidden by a lookup begun before it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from switchboard.storage import Storage
from switchboard.tenancy.admin import KeyAdmin
from switchboard.tenancy.keys import ApiKey, KeyCache, hash_secret

TTL = 5.0


class Counted:
    """The real key store, counting its lookups; `gate` (when set) holds each lookup until it
    opens, so a test can have lookups in flight."""

    def __init__(self, storage: Storage) -> None:
        self._keys = storage.keys
        self.lookups = 0
        self.gate: asyncio.Event | None = None
        self.fail = False  # the database stops answering while a lookup waits at the gate

    async def by_hash(self, digest: bytes) -> ApiKey | None:
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("the database is not answering")
        return await self._keys.by_hash(digest)

    async def hashes(self) -> list[bytes]:
        return await self._keys.hashes()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Work = Callable[[Storage, KeyCache, Counted, Clock, bytes], Awaitable[None]]


def run(tmp_path: Path, work: Work) -> None:
    async def main() -> None:
        storage = Storage(f"sqlite:///{tmp_path / 'keys.db'}")
        try:
            await storage.upgrade()
            _, secret = await KeyAdmin(storage.keys).create({"name": "busy"})
            lookup, clock = Counted(storage), Clock()
            cache = KeyCache(lookup, TTL, clock=clock)
            await work(storage, cache, lookup, clock, hash_secret(secret))
        finally:
            await storage.close()

    asyncio.run(main())


def test_requests_that_miss_together_share_one_query(tmp_path: Path) -> None:
    async def work(_s: Storage, cache: KeyCache, lookup: Counted, _c: Clock, digest: bytes) -> None:
        found = await asyncio.gather(*(cache.get(digest) for _ in range(50)))
        assert lookup.lookups == 1
        assert all(k is not None and k.name == "busy" for k in found)

    run(tmp_path, work)


def test_a_busy_key_is_read_again_before_its_ttl_ends(tmp_path: Path) -> None:
    async def work(
        storage: Storage, cache: KeyCache, lookup: Counted, clock: Clock, digest: bytes
    ) -> None:
        key = await cache.get(digest)
        assert key is not None
        assert key.revoked_at is None
        # Revoked behind the cache's back (no change feed in this test): the cached key holds
        # until its TTL, and in its last fifth a request starts a fresh read.
        await storage.keys.revoke(key.id)
        clock.now += TTL * 0.5
        assert await cache.get(digest) is key
        assert lookup.lookups == 1
        clock.now += TTL * 0.35
        assert await cache.get(digest) is key  # answered from the cache, at once
        await asyncio.sleep(0.1)  # the background read
        assert lookup.lookups == 2
        refreshed = await cache.get(digest)
        assert refreshed is not None
        assert refreshed.revoked_at is not None

    run(tmp_path, work)


def test_an_entry_is_never_served_past_its_ttl(tmp_path: Path) -> None:
    async def work(
        storage: Storage, cache: KeyCache, lookup: Counted, clock: Clock, digest: bytes
    ) -> None:
        key = await cache.get(digest)
        assert key is not None
        await storage.keys.revoke(key.id)
        lookup.gate = asyncio.Event()  # the refresh hangs
        clock.now += TTL * 0.9
        assert await cache.get(digest) is key
        clock.now += TTL * 0.2  # past the TTL: the request waits for the database
        waiting = asyncio.create_task(cache.get(digest))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        lookup.gate.set()
        fresh = await waiting
        assert fresh is not None
        assert fresh.revoked_at is not None

    run(tmp_path, work)


def test_a_change_is_not_hidden_by_a_lookup_begun_before_it(tmp_path: Path) -> None:
    async def work(
        storage: Storage, cache: KeyCache, lookup: Counted, _c: Clock, digest: bytes
    ) -> None:
        lookup.gate = asyncio.Event()
        before = asyncio.create_task(cache.get(digest))
        await asyncio.sleep(0.05)
        key = await storage.keys.by_hash(digest)
        assert key is not None
        await storage.keys.revoke(key.id)
        cache.changed()  # what the change feed does
        after = asyncio.create_task(cache.get(digest))
        await asyncio.sleep(0.05)
        assert lookup.lookups == 2  # its own query, not a share of the one begun before
        lookup.gate.set()
        await before
        got = await after
        assert got is not None
        assert got.revoked_at is not None

    run(tmp_path, work)


def test_a_client_that_leaves_does_not_cancel_the_shared_lookup(tmp_path: Path) -> None:
    async def work(_s: Storage, cache: KeyCache, lookup: Counted, _c: Clock, digest: bytes) -> None:
        lookup.gate = asyncio.Event()
        first = asyncio.create_task(cache.get(digest))
        second = asyncio.create_task(cache.get(digest))
        await asyncio.sleep(0.05)
        first.cancel()
        lookup.gate.set()
        assert (await second) is not None
        with pytest.raises(asyncio.CancelledError):
            await first
        assert lookup.lookups == 1

    run(tmp_path, work)


def test_a_failed_lookup_fails_every_request_that_shared_it(tmp_path: Path) -> None:
    async def work(_s: Storage, cache: KeyCache, lookup: Counted, _c: Clock, digest: bytes) -> None:
        lookup.gate = asyncio.Event()
        tasks = [asyncio.create_task(cache.get(digest)) for _ in range(5)]
        await asyncio.sleep(0.05)
        lookup.fail = True
        lookup.gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert lookup.lookups == 1
        lookup.fail = False
        assert await cache.get(digest) is not None  # nothing bad was remembered

    run(tmp_path, work)
