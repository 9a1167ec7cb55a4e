"""A key changed anywhere (the CLI, which writes to the database directly, or another instance's
admin API) is refused or changed on every gateway within a second, on each kind of deployment:
SQLite (header counters polled), PostgreSQL (LISTEN/NOTIFY) and Redis (pub/sub). The gateways
cache keys for 60 s here, so only the change feed can make it that fast. A change to a team
reaches its keys the same way."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.envelope import assert_envelope

from .gateway import Gateway, cli, write_config
from .services import postgres_database, redis_prefix

pytestmark = pytest.mark.e2e

BODY = {"model": "demo", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
PROMISE = 1.0  # seconds


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The config fields of each kind of deployment (Redis with PostgreSQL, as in production)."""
    if request.param == "sqlite":
        yield {"database": f"sqlite:///{tmp_path / 'switchboard.db'}"}
        return
    with postgres_database() as url:
        if request.param == "postgresql":
            yield {"database": url}
            return
        with redis_prefix() as (redis_url, prefix):
            yield {"database": url, "redis": redis_url, "redis_prefix": prefix}


def ask(client: httpx.Client, gateway: Gateway, key: str) -> httpx.Response:
    return client.post(gateway.url + "/v1/messages", json=BODY, headers={"x-api-key": key})


def within_promise(check: Callable[[], bool]) -> float:
    """Seconds until `check()` holds, polled from now; fails past twice the promise."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < 2 * PROMISE, "the change never arrived"
        time.sleep(0.02)
    return time.monotonic() - started


def cached(client: httpx.Client, gateway: Gateway, key: str) -> None:
    """Let the creation's own announcement pass, then use the key: the gateway now holds it in
    its cache (for 60 s), so what follows shows the change feed, not a cache miss."""
    time.sleep(0.5)
    assert ask(client, gateway, key).status_code == 200


def test_changes_reach_the_other_instance_within_a_second(
    deployment: dict[str, Any], tmp_path: Path
) -> None:
    database = deployment.pop("database")
    config = write_config(tmp_path / "c.yaml", database, **deployment)
    first = Gateway(config, tmp_path / "first.log")
    second = Gateway(config, tmp_path / "second.log")
    try:
        with httpx.Client(timeout=10) as client:
            # A miss first: the first instance has just refused a key it did not know.
            assert ask(client, first, "sk-sb-" + secrets.token_urlsafe(32)).status_code == 401
            status, made = second.admin("POST", "/admin/keys", {"name": "a"})
            assert status == 201
            waited = within_promise(lambda: ask(client, first, made["key"]).status_code == 200)
            assert waited < PROMISE
            cached(client, first, made["key"])

            # Revoked with the CLI: the first instance, which has the key cached, refuses it.
            done = cli(config, "keys", "revoke", made["id"])
            assert done.returncode == 0, done.stderr
            waited = within_promise(lambda: ask(client, first, made["key"]).status_code == 401)
            assert waited < PROMISE
            assert_envelope(
                ask(client, first, made["key"]),
                401,
                "authentication_error",
                "x-api-key: key 'a' has been revoked",
            )

            # Changed through the other instance's admin API: the new allow-list applies here.
            status, other = second.admin("POST", "/admin/keys", {"name": "b"})
            assert status == 201
            within_promise(lambda: ask(client, first, other["key"]).status_code == 200)
            cached(client, first, other["key"])
            status, _ = second.admin("PATCH", f"/admin/keys/{other['id']}", {"models": ["other"]})
            assert status == 200
            waited = within_promise(lambda: ask(client, first, other["key"]).status_code == 403)
            assert waited < PROMISE

            # A team's change is a change of each of its keys: through the admin API, then the
            # CLI, it applies on the instance that has the team's key cached.
            status, team = second.admin("POST", "/admin/teams", {"name": "t"})
            assert status == 201
            status, member = second.admin("POST", "/admin/keys", {"name": "c", "team": "t"})
            assert status == 201
            within_promise(lambda: ask(client, first, member["key"]).status_code == 200)
            cached(client, first, member["key"])
            status, _ = second.admin("PATCH", f"/admin/teams/{team['id']}", {"models": ["other"]})
            assert status == 200
            waited = within_promise(lambda: ask(client, first, member["key"]).status_code == 403)
            assert waited < PROMISE
            assert_envelope(
                ask(client, first, member["key"]),
                403,
                "permission_error",
                "model: team 't' (of key 'c') may not use model 'demo' (allowed: other)",
            )
            done = cli(config, "teams", "update", "t", "--clear", "models")
            assert done.returncode == 0, done.stderr
            waited = within_promise(lambda: ask(client, first, member["key"]).status_code == 200)
            assert waited < PROMISE
    finally:
        first.stop()
        second.stop()
