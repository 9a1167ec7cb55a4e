"""Storage on SQLite and PostgreSQL alike: migrations, keys (only hashes stored), the ledger."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from switchboard.errors import InvalidRequest, NotFound
from switchboard.storage import HEAD_REVISION, Storage, UsageFilter
from switchboard.storage.tables import api_keys
from switchboard.tenancy.admin import KeyAdmin
from switchboard.tenancy.keys import KeyCache, hash_secret
from switchboard.tenancy.usage import UsageRow

T = TypeVar("T")


def run(url: str, work: Callable[[Storage], Awaitable[T]]) -> T:
    async def main() -> T:
        storage = Storage(url)
        try:
            await storage.upgrade()
            return await work(storage)
        finally:
            await storage.close()

    return asyncio.run(main())


def test_migrations_apply_once_and_are_idempotent(database_url: str) -> None:
    async def work(s: Storage) -> str | None:
        await s.upgrade()  # a second start must not fail nor change anything
        return await s.revision()

    assert run(database_url, work) == HEAD_REVISION  # the newest revision


def test_head_revision_is_the_newest_migration() -> None:
    """`upgrade` skips Alembic when the database is at HEAD_REVISION: it must be the real head."""
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    location = resources.files("switchboard.storage").joinpath("migrations")
    cfg.set_main_option("script_location", str(location))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_a_new_database_is_migrated_and_a_current_one_needs_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    async def work(s: Storage) -> str | None:
        assert await s.revision() is None  # nothing there yet
        await s.upgrade()
        return await s.revision()

    async def main() -> str | None:
        storage = Storage(url)
        try:
            return await work(storage)
        finally:
            await storage.close()

    assert asyncio.run(main()) == HEAD_REVISION
    # A second process on the same database starts without importing Alembic.
    probe = (
        "import asyncio, sys\n"
        "from switchboard.storage import Storage\n"
        f"s = Storage({url!r})\n"
        "asyncio.run(s.upgrade()); asyncio.run(s.close())\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_key_is_stored_as_a_hash_and_found_by_its_secret(database_url: str) -> None:
    async def work(s: Storage) -> None:
        admin = KeyAdmin(s.keys)
        key, secret = await admin.create(
            {"name": "alice", "models": "demo,claude-*", "rpm": 5, "budget_usd": 2.5}
        )
        assert secret.startswith("sk-sb-")
        async with s.engine.connect() as conn:
            stored = (await conn.execute(select(api_keys))).mappings().one()
        assert secret not in {str(v) for v in stored.values()}
        assert stored["secret_hash"] == hash_secret(secret)
        found = await s.keys.by_hash(hash_secret(secret))
        assert found is not None
        assert (found.id, found.name) == (key.id, "alice")
        assert found.limits.models == ("demo", "claude-*")
        assert found.limits.budget_nusd == 2_500_000_000
        assert "key" not in found.public()
        assert "secret_hash" not in found.public()

    run(database_url, work)


def test_update_revoke_and_rotate(database_url: str) -> None:
    async def work(s: Storage) -> None:
        cache = KeyCache(s.keys, ttl=3600)
        admin = KeyAdmin(s.keys, cache)
        key, secret = await admin.create({"name": "bob", "tpm": 1000})
        assert (await cache.get(hash_secret(secret))) is not None
        updated = await admin.update(key.id, {"tpm": None, "max_concurrent": 2})
        assert (updated.limits.tpm, updated.limits.max_concurrent) == (None, 2)
        rotated, new_secret = await admin.rotate(key.id)
        assert rotated.id == key.id
        assert new_secret != secret
        assert await s.keys.by_hash(hash_secret(secret)) is None
        # The change forgot the cache: the old secret is unknown at once, not after the TTL.
        assert await cache.get(hash_secret(secret)) is None
        revoked = await admin.revoke(key.id)
        assert revoked.public()["status"] == "revoked"
        cached = await cache.get(hash_secret(new_secret))
        assert cached is not None
        assert cached.revoked_at is not None
        assert [k.id for k in await admin.list()] == [key.id]
        with pytest.raises(NotFound, match="id: no key 'key_nope'"):
            await admin.get("key_nope")

    run(database_url, work)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rpm": 5}, "name: Field required"),
        ({"name": "x", "rpm": -1}, "rpm: must be a whole number"),
        ({"name": "x", "budget_usd": "lots"}, "budget_usd: must be a number"),
        ({"name": "x", "budget_period": "week"}, "budget_period: must be one of day, month"),
        ({"name": "x", "expires_at": "tomorrow"}, "expires_at: 'tomorrow' is neither an ISO 8601"),
        ({"name": "x", "colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_fields_are_named(fields: dict[str, object], message: str, tmp_path: object) -> None:
    async def work(s: Storage) -> None:
        with pytest.raises(InvalidRequest, match=message):
            await KeyAdmin(s.keys).create(fields)

    run(f"sqlite:///{tmp_path}/k.db", work)


def _row(
    key_id: str, model: str, at: datetime, cost: int, status: int = 200, team_id: str | None = None
) -> UsageRow:
    return UsageRow(
        at=at,
        request_id=f"req_{key_id}_{model}_{at.timestamp()}",
        key_id=key_id,
        model=model,
        provider="demo",
        channel="demo/demo",
        upstream_model="demo",
        input_tokens=10,
        output_tokens=5,
        cache_read_tokens=1,
        cache_write_tokens=0,
        cost_nusd=cost,
        latency_ms=12.5,
        ttft_ms=None,
        stream=False,
        status=status,
        error_type=None if status == 200 else "rate_limit_error",
        client_disconnected=False,
        team_id=team_id,
    )


def test_ledger_rows_reports_and_spend(database_url: str) -> None:
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)

    async def work(s: Storage) -> None:
        await s.ledger.write(
            [
                _row("k1", "demo", yesterday, 1_000),
                _row("k1", "demo", today, 2_000),
                _row("k1", "other", today, 4_000),
                _row("k2", "demo", today, 0, status=429),
            ]
        )
        assert await s.ledger.spent_since("k1", None) == 7_000
        assert await s.ledger.spent_since("k1", today - timedelta(hours=1)) == 6_000
        rows = await s.ledger.rows(UsageFilter(key_id="k1", model="demo"))
        assert [r["cost_usd"] for r in rows] == [2e-6, 1e-6]  # newest first
        assert rows[0]["at"].endswith("Z")
        assert rows[0]["cache_read_tokens"] == 1
        by_key = await s.ledger.report(UsageFilter(), "key")
        assert [(r["key"], r["requests"], r["cost_usd"], r["errors"]) for r in by_key] == [
            ("k1", 3, 7e-6, 0),
            ("k2", 1, 0.0, 1),
        ]
        by_day = await s.ledger.report(UsageFilter(key_id="k1"), "day")
        assert [(r["day"], r["requests"]) for r in by_day] == [
            (yesterday.date().isoformat(), 1),
            (today.date().isoformat(), 2),
        ]
        by_model = await s.ledger.report(UsageFilter(since=today - timedelta(hours=1)), "model")
        assert [(r["model"], r["requests"]) for r in by_model] == [("demo", 2), ("other", 1)]

    run(database_url, work)
