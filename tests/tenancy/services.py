"""The real PostgreSQL and Redis the tenancy tests use. Missing services skip the tests with the
reason, or fail them when CI=true (a CI run must not pass by testing nothing)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_URLS = (
    [os.environ["SWITCHBOARD_TEST_POSTGRES_URL"]]
    if os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL")
    else ["postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test"]
)
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = secrets.token_hex(4)  # unique names per run: concurrent runs never collide


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    print(f"\nskipping: {reason}")
    pytest.skip(reason)


async def _pg_admin_url() -> str | None:
    import asyncpg  # type: ignore[import-untyped]  # no stubs are published with it

    for url in POSTGRES_URLS:
        try:
            conn = await asyncio.wait_for(asyncpg.connect(url), 5)
        except Exception:  # noqa: BLE001 - any failure means "not this URL"
            continue
        await conn.close()
        return url
    return None


async def _pg_execute(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database for one test (dropped after), on the PostgreSQL the env names."""
    admin = asyncio.run(_pg_admin_url())
    if admin is None:
        unavailable(f"no PostgreSQL at {' or '.join(POSTGRES_URLS)}")
        raise AssertionError("unreachable")
    name = f"sb_test_{RUN_ID}_{secrets.token_hex(3)}"
    asyncio.run(_pg_execute(admin, f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _redis_ok(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=3)
    try:
        return bool(await client.ping())
    except Exception:  # noqa: BLE001 - unreachable for whatever reason
        return False
    finally:
        await client.aclose()


async def _redis_drop(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=500):
            await client.delete(key)
    finally:
        await client.aclose()


@contextmanager
def redis_prefix() -> Iterator[tuple[str, str]]:
    """(url, a key prefix no other test or run uses); its keys are deleted after."""
    if not asyncio.run(_redis_ok(REDIS_URL)):
        unavailable(f"no Redis at {REDIS_URL}")
    prefix = f"sbtest-{RUN_ID}-{secrets.token_hex(3)}"
    try:
        yield REDIS_URL, prefix
    finally:
        asyncio.run(_redis_drop(REDIS_URL, prefix))
