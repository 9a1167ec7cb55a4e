"""No usage row is lost: hostile strings are stored bounded and cleaned without costing any other
row, a database that goes away sends rows to the journal (replayed when it is back, and before
a restarted gateway seeds a budget), and with the journal gone too the gateway refuses billable
requests instead of serving them unbilled. Run through `python -m switchboard serve` on SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .gateway import Gateway, cli_json, write_config

pytestmark = pytest.mark.e2e

KEYS = {name: f"sk-static-{name}-" + "k" * 20 for name in ("alice", "bob", "mallory")}


def ask(gateway: Gateway, key: str, model: str = "demo") -> httpx.Response:
    body = {"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        gateway.url + "/v1/messages", json=body, headers={"x-api-key": key}, timeout=30
    )


def ledger(config: Path, key_id: str | None = None) -> list[dict[str, Any]]:
    args = ["usage", "--limit", "100000"] + (["--key", key_id] if key_id else [])
    rows: list[dict[str, Any]] = cli_json(config, *args)
    return rows


def metric(gateway: Gateway, name: str) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    found = re.search(rf"^{name}(?:_total)? (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def config_for(tmp_path: Path, database_url: str, **extra: Any) -> Path:
    keys = [{"name": name, "key": key} for name, key in KEYS.items()]
    # Claude Code's names reach `demo` through a glob alias: any text after `claude-` resolves.
    models = [
        {
            "id": "demo",
            "aliases": ["claude-*"],
            "channels": [{"provider": "demo", "model": "demo"}],
            "pricing": {"input": 3.0, "output": 15.0},
        }
    ]
    return write_config(tmp_path / "c.yaml", database_url, keys=keys, models=models, **extra)


def test_hostile_model_names_are_stored_bounded_and_cost_no_other_row(
    database_url: str, tmp_path: Path
) -> None:
    config = config_for(tmp_path, database_url)
    gateway = Gateway(config, tmp_path / "gw.log")
    hostile = [
        "x" * 10_000,  # unknown: 404, stored as a marker
        "bad\x00model",  # unknown, with a NUL byte
        "claude-" + "y" * 10_000,  # resolves through the glob alias: 200, stored bounded
        "claude-nul\x00\x1b[31m\u202e",  # resolves; NUL, an escape and a bidi override removed
    ]
    try:
        with ThreadPoolExecutor(8) as pool:
            normal = [
                pool.submit(ask, gateway, KEYS[name])
                for _ in range(15)
                for name in ("alice", "bob")
            ]
            bad = [pool.submit(ask, gateway, KEYS["mallory"], model) for model in hostile * 3]
            statuses = [f.result().status_code for f in normal]
            bad_statuses = [f.result().status_code for f in bad]
    finally:
        gateway.stop()
    assert statuses == [200] * 30
    assert bad_statuses == [404, 404, 200, 200] * 3

    for name in ("alice", "bob"):
        rows = ledger(config, f"config:{name}")
        assert len(rows) == 15
        assert {r["model"] for r in rows} == {"demo"}
        assert all(r["cost_usd"] > 0 for r in rows)
    rows = ledger(config, "config:mallory")
    assert len(rows) == 12
    models = sorted({r["model"] for r in rows})
    assert models == sorted({"(unknown)", "claude-" + "y" * 193, "claude-nul[31m"})


@contextmanager
def database_down(database_url: str) -> Iterator[None]:
    """The gateway's database stops taking writes, then comes back."""
    if database_url.startswith("sqlite:///"):
        # Tests run as root, where permissions stop nothing: a directory where SQLite keeps its
        # rollback journal makes every write fail with an I/O error.
        journal = Path(database_url.removeprefix("sqlite:///") + "-journal")
        journal.unlink(missing_ok=True)
        journal.mkdir()
        try:
            yield
        finally:
            journal.rmdir()
        return
    base, name = database_url.rsplit("/", 1)
    admin = base + "/postgres"

    async def run(sql: str) -> None:
        import asyncpg  # type: ignore[import-untyped]  # no stubs are published with it

        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
    asyncio.run(
        run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    )
    try:
        yield
    finally:
        asyncio.run(run(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))


def test_rows_written_while_the_database_is_down_are_journaled_and_replayed(
    database_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "ledger.journal"
    config = config_for(tmp_path, database_url, ledger_journal=str(journal))
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        assert [ask(gateway, KEYS["alice"]).status_code for _ in range(5)] == [200] * 5
        wait_for(lambda: metric(gateway, "switchboard_ledger_rows_written") == 5)
        with database_down(database_url):
            served = [ask(gateway, KEYS[n]).status_code for n in ("alice", "bob") * 10]
            assert served == [200] * 20  # clients are served; their rows wait on disk
            wait_for(lambda: metric(gateway, "switchboard_ledger_rows_journaled") == 20)
            assert journal.stat().st_size > 0
            assert metric(gateway, "switchboard_ledger_write_failures") > 0
            assert metric(gateway, "switchboard_ledger_accepting") == 1
        # Back: the journal is replayed within a few seconds, while serving.
        wait_for(lambda: metric(gateway, "switchboard_ledger_rows_replayed") == 20)
        assert metric(gateway, "switchboard_ledger_journal_bytes") == 0
        assert ask(gateway, KEYS["bob"]).status_code == 200
    finally:
        gateway.stop()
    assert len(ledger(config, "config:alice")) == 15
    assert len(ledger(config, "config:bob")) == 11
    assert len({r["request_id"] for r in ledger(config)}) == 26  # each exactly once


def test_a_restarted_gateway_replays_the_journal_before_it_seeds_a_budget(
    database_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "ledger.journal"
    config = config_for(tmp_path, database_url, ledger_journal=str(journal))
    # Enough for a few requests: each reserves its worst case, 4 output tokens at $15/M.
    made = cli_json(config, "keys", "create", "--name", "b", "--budget-usd", "0.0004")
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        assert ask(gateway, made["key"]).status_code == 200  # the budget is seeded now
        with database_down(database_url):
            statuses = [ask(gateway, made["key"]).status_code for _ in range(10)]
            assert statuses[0] == 200
            assert statuses[-1] == 402
            wait_for(lambda: metric(gateway, "switchboard_ledger_rows_journaled") >= 10)
            # Stopped while the database is still down: the rows stay in the journal.
            gateway.stop()
        assert journal.stat().st_size > 0
        served = statuses.count(200) + 1
        gateway = Gateway(config, tmp_path / "gw2.log")
        # The restarted gateway's budget knows what was spent: the journal came first.
        refused = ask(gateway, made["key"])
        assert refused.status_code == 402, refused.text
    finally:
        gateway.stop()
    assert journal.stat().st_size == 0
    rows = ledger(config, made["id"])
    assert [r["status"] for r in rows].count(200) == served
    assert len(rows) == 12  # one per request, each exactly once


def test_with_the_journal_unwritable_too_billable_requests_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    journal = blocker / "ledger.journal"  # ENOTDIR, for root too
    config = config_for(tmp_path, database_url, ledger_journal=str(journal))
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        assert ask(gateway, KEYS["alice"]).status_code == 200
        wait_for(lambda: metric(gateway, "switchboard_ledger_rows_written") == 1)
        with database_down(database_url):
            assert ask(gateway, KEYS["alice"]).status_code == 200  # its row is held in memory
            wait_for(lambda: metric(gateway, "switchboard_ledger_accepting") == 0)
            refused = ask(gateway, KEYS["bob"])
            assert refused.status_code == 529
            assert refused.json()["error"]["type"] == "overloaded_error"
            assert "retry-after" in refused.headers
            assert metric(gateway, "switchboard_ledger_rows_held") == 1
            # A load balancer sends traffic elsewhere meanwhile.
            assert httpx.get(gateway.url + "/health", timeout=10).status_code == 503
        wait_for(lambda: metric(gateway, "switchboard_ledger_accepting") == 1)
        assert httpx.get(gateway.url + "/health", timeout=10).status_code == 200
        assert metric(gateway, "switchboard_ledger_rows_held") == 0
        assert ask(gateway, KEYS["bob"]).status_code == 200
    finally:
        gateway.stop()
    assert len(ledger(config, "config:alice")) == 2
    assert len(ledger(config, "config:bob")) == 1


def test_a_truncated_file_beside_the_sqlite_database_does_not_kill_the_gateway(
    tmp_path: Path,
) -> None:
    """WAL mode maps its -shm file: truncated under a running gateway, the next write was a
    SIGBUS. No file is mapped now."""
    db = tmp_path / "sb.db"
    config = config_for(tmp_path, f"sqlite:///{db}")
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        assert ask(gateway, KEYS["alice"]).status_code == 200
        time.sleep(0.5)  # the row is written
        beside = [p for p in tmp_path.iterdir() if p.name.startswith("sb.db-")]
        for path in beside:
            os.truncate(path, 0)
        assert [ask(gateway, KEYS["alice"]).status_code for _ in range(3)] == [200] * 3
        time.sleep(0.5)  # the rows are written
        assert gateway.proc.poll() is None
        assert not [p for p in beside if p.name.endswith("-shm")]
    finally:
        gateway.stop()
    assert len(ledger(config, "config:alice")) == 4


def test_journal_default_path_is_beside_the_sqlite_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from switchboard.storage.journal import default_journal_path

    db = tmp_path / "data" / "sb.db"
    assert default_journal_path(f"sqlite:///{db}") == db.with_name("sb.db.ledger-journal")
    # Other databases: the data directory, as the master key file (never the working directory).
    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / "switchboard.ledger-journal"
    assert default_journal_path("postgresql://u@h/db") == expected
