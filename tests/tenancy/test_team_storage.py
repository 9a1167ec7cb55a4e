"""Teams in the database, on SQLite and PostgreSQL: a database at revision 0004 with keys and
ledger rows in it is upgraded in place (0005_teams) with nothing lost; teams are created,
found by id or name, attached to keys (read back with the key, as the gateway's cache reads
it), refused deletion while they have keys unless forced; the ledger keeps each row's team for
budgets and reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from switchboard.errors import Conflict, InvalidRequest, NotFound
from switchboard.storage import HEAD_REVISION, Storage, UsageFilter, _alembic
from switchboard.tenancy.admin import KeyAdmin
from switchboard.tenancy.keys import hash_secret
from switchboard.tenancy.usage import UsageRow

from .test_storage import _row as row
from .test_storage import run


async def _at_0004(url: str) -> None:
    """Build the schema as release 0004 left it, and fill it as a user would have."""
    from alembic import command

    storage = Storage(url)
    try:
        async with storage.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(_alembic(c), "0004"))
            await conn.execute(
                text(
                    "INSERT INTO api_keys (id, name, prefix, secret_hash, rpm, budget_nusd, "
                    "budget_period, created_at) VALUES ('key_old', 'old', 'sk-sb-abcd', "
                    ":digest, 7, 5000, 'day', :at)"
                ),
                {"digest": hash_secret("sk-sb-old-secret"), "at": datetime.now(UTC)},
            )
            for i in range(3):
                await conn.execute(
                    text(
                        "INSERT INTO usage (at, request_id, key_id, model, provider, channel, "
                        "upstream_model, input_tokens, output_tokens, cache_read_tokens, "
                        "cache_write_tokens, cost_nusd, latency_ms, stream, status, "
                        "client_disconnected, failovers, retries, dropped) VALUES (:at, :rid, "
                        "'key_old', 'demo', 'demo', 'demo/demo', 'demo', 10, 4, 0, 0, 100, "
                        "1.5, false, 200, false, 0, 0, 'x')"
                    ),
                    {"at": datetime.now(UTC) - timedelta(minutes=i), "rid": f"req_old_{i}"},
                )
        assert await storage.revision() == "0004"
    finally:
        await storage.close()


def test_a_database_at_0004_is_upgraded_in_place(database_url: str) -> None:
    asyncio.run(_at_0004(database_url))

    async def work(s: Storage) -> None:
        assert await s.revision() == HEAD_REVISION
        key = await s.keys.by_hash(hash_secret("sk-sb-old-secret"))
        assert key is not None
        assert key.team is None
        assert (key.name, key.limits.rpm, key.limits.budget_nusd) == ("old", 7, 5000)
        assert key.limits.budget_period == "day"
        rows = await s.ledger.rows(UsageFilter(key_id="key_old"))
        assert sorted(r["request_id"] for r in rows) == [f"req_old_{i}" for i in range(3)]
        assert {r["team_id"] for r in rows} == {None}
        assert {r["dropped"] for r in rows} == {"x"}
        assert await s.ledger.spent_since("key_old", None) == 300
        # The upgraded database takes teams at once.
        admin = KeyAdmin(s.keys, teams=s.teams)
        assert admin.teams is not None
        team = await admin.teams.create({"name": "eng", "rpm": 5})
        moved = await admin.update("key_old", {"team": "eng"})
        assert moved.team == team

    run(database_url, work)


def test_teams_and_their_keys(database_url: str) -> None:
    async def work(s: Storage) -> None:
        admin = KeyAdmin(s.keys, teams=s.teams)
        teams = admin.teams
        assert teams is not None
        eng = await teams.create(
            {"name": "eng", "rpm": 60, "budget_usd": 25, "budget_period": "day", "models": ["a*"]}
        )
        assert eng.public()["budget_usd"] == 25
        assert eng.public()["models"] == ["a*"]
        with pytest.raises(Conflict, match="name: there is already a team named 'eng'"):
            await teams.create({"name": "eng"})
        with pytest.raises(InvalidRequest, match="expires_at: unknown field"):
            await teams.create({"name": "ops", "expires_at": "1d"})  # keys expire, teams do not
        with pytest.raises(InvalidRequest, match="rpm: must be a whole number"):
            await teams.create({"name": "ops", "rpm": -1})
        assert await teams.get(eng.id) == await teams.get("eng") == eng

        key, secret = await admin.create({"name": "alice", "team": "eng", "rpm": 10})
        assert key.team == eng
        assert key.public()["team"] == eng.id
        assert key.public()["team_name"] == "eng"
        cached = await s.keys.by_hash(hash_secret(secret))  # what a gateway reads
        assert cached is not None
        assert cached.team == eng
        with pytest.raises(InvalidRequest, match="team: no team 'nope'"):
            await admin.create({"name": "bob", "team": "nope"})

        # A change to the team is read with the key.
        changed = await teams.update("eng", {"rpm": 5, "models": None, "name": "platform"})
        assert (changed["rpm"], changed["models"], changed["keys"]) == (5, None, 1)
        cached = await s.keys.by_hash(hash_secret(secret))
        assert cached is not None
        assert cached.team is not None
        assert (cached.team.name, cached.team.limits.rpm) == ("platform", 5)
        assert [(t.name, n) for t, n in await teams.list()] == [("platform", 1)]

        with pytest.raises(Conflict, match="has 1 key"):
            await teams.delete("platform", force=False)
        assert (await admin.get(key.id)).team is not None  # refused: nothing changed
        deleted = await teams.delete("platform", force=True)
        assert deleted["detached_keys"] == 1
        assert (await admin.get(key.id)).team is None  # detached, still there
        with pytest.raises(NotFound):
            await teams.get(eng.id)
        left = await teams.create({"name": "left"})
        await admin.update(key.id, {"team": left.id})
        cleared = await admin.update(key.id, {"team": None})
        assert cleared.team is None
        assert cleared.limits.rpm == 10
        assert (await teams.delete("left", force=False))["detached_keys"] == 0

    run(database_url, work)


def _row(key_id: str, team_id: str | None, at: datetime, cost: int) -> UsageRow:
    return row(key_id, "demo", at, cost, team_id=team_id)


def test_the_ledger_charges_and_reports_teams(database_url: str) -> None:
    now = datetime.now(UTC)

    async def work(s: Storage) -> None:
        await s.ledger.write(
            [
                _row("k1", "team_a", now - timedelta(days=2), 1_000),
                _row("k1", "team_a", now, 2_000),
                _row("k2", "team_a", now, 4_000),
                _row("k3", None, now, 8_000),
            ]
        )
        assert await s.ledger.spent_since("team_a", None, team=True) == 7_000
        assert await s.ledger.spent_since("team_a", now - timedelta(hours=1), team=True) == 6_000
        by_team = await s.ledger.report(UsageFilter(), "team")
        assert sorted(((r["team"] or ""), r["requests"], r["cost_usd"]) for r in by_team) == [
            ("", 1, 8e-6),
            ("team_a", 3, 7e-6),
        ]
        only = await s.ledger.rows(UsageFilter(team_id="team_a"))
        assert {r["key_id"] for r in only} == {"k1", "k2"}

    run(database_url, work)


def test_the_journal_keeps_a_rows_team(tmp_path: Path) -> None:
    """Rows waiting in the journal (database down) count towards a team's budget seed."""
    from switchboard.storage.journal import Journal

    journal = Journal(tmp_path / "j")
    now = datetime.now(UTC)
    journal.append([_row("k1", "team_a", now, 300), _row("k2", "team_a", now, 200)])
    assert journal.pending_spend("team_a", None, team=True) == 500
    assert journal.pending_spend("k1", None) == 300
