"""A flood of random, well-formed `sk-sb-` keys must not reach the database: the key cache knows
every stored key's hash and refuses strangers without a query (beyond a small budget a second,
which lets a key created elsewhere work before the next reload). Counted on both databases."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest
from sqlalchemy import event

from switchboard.config import Config
from switchboard.errors import AuthenticationFailed
from switchboard.storage import Storage
from switchboard.tenancy.admin import KeyAdmin
from switchboard.tenancy.auth import Authenticator
from switchboard.tenancy.runtime import Tenancy

FLOOD = 2_000
MASTER = "sk-sb-master-" + "m" * 24


def test_a_flood_of_unknown_keys_costs_almost_no_queries(database_url: str) -> None:
    async def main() -> tuple[int, int, float, list[str]]:
        config = Config(database=database_url, master_key=MASTER, key_cache_seconds=60)
        tenancy = Tenancy(config)
        await tenancy.start()
        try:
            _, secret = await tenancy.admin.create({"name": "real"})
            auth = Authenticator(MASTER, config, tenancy.keys)
            assert (await auth.authenticate(secret, None)).name == "real"
            queries = lookups = 0

            def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                nonlocal queries, lookups
                queries += "api_keys" in statement
                lookups += "WHERE api_keys.secret_hash =" in statement  # one key, by its hash

            event.listen(tenancy.storage.engine.sync_engine, "before_cursor_execute", count)
            messages = []
            started = time.monotonic()
            for _ in range(FLOOD):
                stranger = "sk-sb-" + secrets.token_urlsafe(32)
                with pytest.raises(AuthenticationFailed) as refused:
                    await auth.authenticate(stranger, None)
                messages.append(refused.value.message)
            elapsed = time.monotonic() - started
            assert (await auth.authenticate(secret, None)).name == "real"  # still served
            return queries, lookups, elapsed, messages
        finally:
            await tenancy.stop()

    queries, lookups, elapsed, messages = asyncio.run(main())
    # The budget: 20 lookups a second of unknown keys, whatever the flood (+ the real key, read
    # again after a reload); the other queries are reloads of the known hashes (when the feed
    # connects, after the creation).
    assert lookups <= 20 * (elapsed + 1) + 2, (lookups, elapsed)
    # Besides those budgeted lookups (more of them on a slower machine, where the flood takes
    # longer), only a few reloads of the known hashes.
    assert queries - lookups < 10, (queries, lookups)
    assert set(messages) == {"invalid API key in the x-api-key header"}


def test_a_key_created_by_another_writer_after_a_miss_works_within_a_second(
    database_url: str,
) -> None:
    """Another writer (the CLI, another instance) creates the key; this gateway's cache has
    just refused strangers until its budget ran out, and still takes the new key in time."""

    async def main() -> float:
        config = Config(database=database_url, master_key=MASTER, key_cache_seconds=60)
        tenancy = Tenancy(config)
        await tenancy.start()
        other = Storage(database_url)
        try:
            auth = Authenticator(MASTER, config, tenancy.keys)
            for _ in range(200):  # spends the unknown-key budget
                with pytest.raises(AuthenticationFailed):
                    await auth.authenticate("sk-sb-" + secrets.token_urlsafe(32), None)
            _, secret = await KeyAdmin(other.keys, changes=tenancy.key_changes).create(
                {"name": "new"}
            )
            started = time.monotonic()
            while True:
                try:
                    await auth.authenticate(secret, None)
                    return time.monotonic() - started
                except AuthenticationFailed:
                    assert time.monotonic() - started < 2
                    await asyncio.sleep(0.02)
        finally:
            await other.close()
            await tenancy.stop()

    assert asyncio.run(main()) < 1.0


async def refusal(auth: Authenticator, secret: str) -> str | None:
    """Why the key is refused, or None while it is accepted."""
    try:
        await auth.authenticate(secret, None)
    except AuthenticationFailed as refused:
        return refused.message
    return None


def test_the_postgresql_listener_comes_back_and_no_change_is_missed(postgres_url: str) -> None:
    """The server drops the LISTEN connection; a key revoked meanwhile is refused all the same,
    and a new listener is connected within seconds."""
    import asyncpg  # type: ignore[import-untyped]  # no stubs are published with it

    from switchboard.storage.changes import LISTENER_NAME

    async def listener_pids(admin: Any) -> list[int]:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            LISTENER_NAME,
            postgres_url.rsplit("/", 1)[1],
        )
        return [int(r["pid"]) for r in rows]

    async def main() -> None:
        config = Config(database=postgres_url, master_key=MASTER, key_cache_seconds=60)
        tenancy = Tenancy(config)
        await tenancy.start()
        other = Storage(postgres_url)
        admin = await asyncpg.connect(postgres_url)
        try:
            key, secret = await tenancy.admin.create({"name": "k"})
            auth = Authenticator(MASTER, config, tenancy.keys)
            await asyncio.sleep(0.3)  # the creation's own NOTIFY comes back
            assert (await auth.authenticate(secret, None)).name == "k"  # cached for 60 s
            old = await listener_pids(admin)
            assert len(old) == 1
            await admin.execute("SELECT pg_terminate_backend($1)", old[0])
            await KeyAdmin(other.keys).revoke(key.id)
            started = time.monotonic()
            message = None
            while message is None:
                assert time.monotonic() - started < 3, "the revocation was not heard"
                await asyncio.sleep(0.05)
                message = await refusal(auth, secret)
            assert message == "x-api-key: key 'k' has been revoked"
            while not (new := await listener_pids(admin)) or new == old:
                assert time.monotonic() - started < 5, "no listener came back"
                await asyncio.sleep(0.1)
        finally:
            await admin.close()
            await other.close()
            await tenancy.stop()

    asyncio.run(main())
