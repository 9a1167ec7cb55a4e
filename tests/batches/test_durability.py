"""Batches survive their gateway: a batch in progress when the gateway process is killed
(SIGKILL: no shutdown at all) resumes when a gateway starts again on the same database, and no
request whose result was stored is sent to the upstream again. And the key's budget holds: the
requests past it are errored with the budget error, never sent. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.support.closing import opened
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.tenancy.services import postgres_database

from .conftest import MASTER, batch_request, gateway_config, wait_ended
from .upstream import marker_of, markers

pytestmark = pytest.mark.e2e

PER_BATCH = 2


def key_client(gw: GatewayProcess, **key: object) -> anthropic.Anthropic:
    """A client with a new database key of these settings (made through the admin API)."""
    made = httpx.post(
        gw.url + "/admin/keys", headers={"authorization": f"Bearer {MASTER}"}, json=key
    )
    assert made.status_code == 201, made.text
    return opened(anthropic.Anthropic(base_url=gw.url, api_key=made.json()["key"], max_retries=0))


def test_a_killed_gateway_resumes_and_runs_nothing_twice(
    database_url: str, upstream: ScriptedUpstream
) -> None:
    config = gateway_config(database_url, upstream, per_batch=PER_BATCH)
    names = [f"slowrestart{i}" for i in range(6)]
    mine = {f"{n}-{database_url[:6]}" for n in names}
    first = GatewayProcess(config).start()
    try:
        c = opened(anthropic.Anthropic(base_url=first.url, api_key=MASTER, max_retries=0))
        batch = c.messages.batches.create(requests=[batch_request(n, n) for n in sorted(mine)])
        # With PER_BATCH running at a time, a request is claimed only once an earlier one has
        # stored its result: when the 4th arrives, at least two are done.
        deadline = time.monotonic() + 15
        while sum(markers(upstream)[m] for m in mine) < 4:
            assert time.monotonic() < deadline, "the batch did not get going"
            time.sleep(0.02)
        first.proc.kill()
        first.proc.wait(10)
        at_kill = [m for m in map(marker_of, upstream.received) if m in mine]
    finally:
        first.stop()
    finished_before = at_kill[:-PER_BATCH]  # all but the (at most) PER_BATCH in flight
    assert len(finished_before) >= 2

    with GatewayProcess(config) as second:
        c = opened(anthropic.Anthropic(base_url=second.url, api_key=MASTER, max_retries=0))
        done = wait_ended(c, batch.id, timeout=20)
        assert done.request_counts.succeeded == len(mine)
        results = {r.custom_id: r.result for r in c.messages.batches.results(batch.id)}
    assert {k: r.type for k, r in results.items()} == dict.fromkeys(mine, "succeeded")
    seen = markers(upstream)
    for marker in finished_before:
        assert seen[marker] == 1, f"{marker} had finished and was sent again"
    assert all(seen[m] in (1, 2) for m in mine)  # once, or again if it was cut by the kill


def test_the_budget_holds_for_batch_requests(database_url: str, upstream: ScriptedUpstream) -> None:
    # One at a time, so each request is admitted against what the ones before it spent. Dear
    # enough that a few exhaust the budget: each reserves its worst case (its estimate and
    # max_tokens at the full price) and is charged half of what it used.
    config = gateway_config(database_url, upstream, per_batch=1)
    for model in config["models"]:
        model["pricing"] = {"input": 3000.0, "output": 15000.0}
    with GatewayProcess(config) as gw:
        c = key_client(gw, name="thrifty", budget_usd=0.35, budget_period="total")
        tag = database_url[:6]
        mine = [f"budget{i}-{tag}" for i in range(8)]
        batch = c.messages.batches.create(
            requests=[batch_request(m, m, max_tokens=10) for m in mine]
        )
        done = wait_ended(c, batch.id, timeout=20)
        results = {r.custom_id: r.result for r in c.messages.batches.results(batch.id)}
    counts = done.request_counts
    assert counts.succeeded >= 1
    assert counts.errored >= 1
    assert counts.succeeded + counts.errored == len(mine)
    seen = markers(upstream)
    for marker, result in results.items():
        if result.type == "errored":
            assert result.error.error.type == "billing_error"
            assert "budget" in result.error.error.message
            assert seen[marker] == 0, f"{marker} was refused yet reached the upstream"
        else:
            assert seen[marker] == 1


def test_two_processes_on_one_postgresql_run_each_request_once(
    upstream: ScriptedUpstream,
) -> None:
    """`serve --workers 2`: two gateway processes, two batch workers claiming from one
    database (FOR UPDATE SKIP LOCKED); every request reaches the upstream exactly once."""
    with postgres_database() as url:
        config = gateway_config(url, upstream, per_batch=3)
        # Two processes starting on a shared machine: more time than one needs.
        gw = GatewayProcess(config, extra_args=["--workers", "2"]).start(timeout=60)
        try:
            c = opened(anthropic.Anthropic(base_url=gw.url, api_key=MASTER, max_retries=0))
            mine = [f"twoproc{i}" for i in range(24)]
            batch = c.messages.batches.create(requests=[batch_request(m, m) for m in mine])
            done = wait_ended(c, batch.id, timeout=30)
            log = gw.output()
        finally:
            gw.stop()
    assert done.request_counts.succeeded == len(mine)
    seen = markers(upstream)
    assert {m: seen[m] for m in mine} == dict.fromkeys(mine, 1)
    assert "Traceback" not in log


def test_what_has_not_run_when_a_batch_expires_is_expired(
    tmp_path: Path, upstream: ScriptedUpstream
) -> None:
    # A batch that expires 2 s after it was made (the real API: 24 hours), running one slow
    # request at a time.
    config = gateway_config(
        f"sqlite:///{tmp_path / 'switchboard.db'}", upstream, per_batch=1, expiry_hours=2 / 3600
    )
    with GatewayProcess(config) as gw:
        c = opened(anthropic.Anthropic(base_url=gw.url, api_key=MASTER, max_retries=0))
        mine = [f"slowexpire{i}" for i in range(5)]
        batch = c.messages.batches.create(requests=[batch_request(m, m) for m in mine])
        done = wait_ended(c, batch.id, timeout=20)
        results = {r.custom_id: r.result.type for r in c.messages.batches.results(batch.id)}
    counts = done.request_counts
    assert counts.expired >= 1
    assert counts.succeeded >= 1
    assert counts.expired + counts.succeeded == len(mine)
    seen = markers(upstream)
    for marker, outcome in results.items():
        assert seen[marker] == (1 if outcome == "succeeded" else 0), (marker, outcome)


def test_requests_the_keys_rate_limit_refuses_wait_and_run(
    tmp_path: Path, upstream: ScriptedUpstream
) -> None:
    """A key allowed one request at a time, a batch running four at once: the three the limit
    refuses are put back and run later, none errored, each sent once."""
    config = gateway_config(f"sqlite:///{tmp_path / 'switchboard.db'}", upstream, per_batch=4)
    with GatewayProcess(config) as gw:
        c = key_client(gw, name="one-at-a-time", max_concurrent=1)
        mine = [f"limited{i}" for i in range(6)]
        batch = c.messages.batches.create(requests=[batch_request(m, m) for m in mine])
        done = wait_ended(c, batch.id, timeout=30)
    assert done.request_counts.succeeded == len(mine)
    seen = markers(upstream)
    assert {m: seen[m] for m in mine} == dict.fromkeys(mine, 1)
