"""Teams as a user meets them: one gateway on SQLite run as `python -m switchboard serve`, the
`switchboard teams` CLI, the admin API and the Anthropic SDK. A team's limits apply to its keys
and say they are the team's when they refuse; a change to a team made by another process
reaches the running gateway within a second; usage is reported per team."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from .gateway import Gateway, cli, cli_json, write_config
from .test_gateway import ask

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Path]]:
    d = tmp_path_factory.mktemp("teams")
    config = write_config(d / "switchboard.yaml", f"sqlite:///{d}/switchboard.db")
    gateway = Gateway(config, d / "gateway.log")
    try:
        yield gateway, config
    finally:
        gateway.stop()


def refusal(gateway: Gateway, key: str, model: str = "demo") -> tuple[int, str, str]:
    """(status, error type, message) of a request the gateway refuses."""
    with pytest.raises(anthropic.APIStatusError) as err:
        ask(gateway, key, model)
    body: Any = err.value.body
    return err.value.status_code, body["error"]["type"], body["error"]["message"]


def test_team_limits_apply_to_its_keys_and_refusals_name_the_team(
    gw: tuple[Gateway, Path],
) -> None:
    gateway, config = gw
    status, team = gateway.admin(
        "POST", "/admin/teams", {"name": "sq", "rpm": 2, "models": ["demo"]}
    )
    assert status == 201
    status, key = gateway.admin("POST", "/admin/keys", {"name": "k1", "team": team["id"]})
    assert status == 201
    assert ask(gateway, key["key"]).parse().content
    assert ask(gateway, key["key"]).parse().content
    status, kind, message = refusal(gateway, key["key"])
    assert (status, kind) == (429, "rate_limit_error")
    assert message.startswith(
        "rate limit: team 'sq' (of key 'k1') has made 2 requests in the last minute, "
        "its limit is 2 requests per minute; retry in "
    )
    # The team's allow-list intersects the key's: 'other' is allowed to the key, not the team.
    assert refusal(gateway, key["key"], "other") == (
        403,
        "permission_error",
        "model: team 'sq' (of key 'k1') may not use model 'other' (allowed: demo)",
    )
    # The CLI (another process) raises the team's limit: the gateway, which caches the key for
    # 60 s, applies it within a second.
    done = cli(config, "teams", "update", "sq", "--rpm", "5")
    assert done.returncode == 0, done.stderr
    assert "rpm=5" in done.stdout
    deadline = time.monotonic() + 2
    while True:
        try:
            assert ask(gateway, key["key"]).parse().content
            break
        except anthropic.RateLimitError:
            assert time.monotonic() < deadline, "the team's change never arrived"
            time.sleep(0.05)


def test_a_team_budget_refuses_with_the_teams_name(gw: tuple[Gateway, Path]) -> None:
    gateway, _ = gw
    status, _ = gateway.admin("POST", "/admin/teams", {"name": "broke", "budget_usd": 1e-5})
    assert status == 201
    status, key = gateway.admin("POST", "/admin/keys", {"name": "k2", "team": "broke"})
    assert status == 201
    status, kind, message = refusal(gateway, key["key"])
    assert (status, kind) == (402, "billing_error")
    assert message.startswith(
        "budget: team 'broke' (of key 'k2') has spent $0 of its monthly budget of $0.00001, "
        "and this request may cost up to $"
    )
    # A model with no price: a key whose team has a budget may not use it.
    status, kind, message = refusal(gateway, key["key"], "other")
    assert (status, kind) == (402, "billing_error")
    assert "so team 'broke' (of key 'k2'), which has a budget, may not use it" in message


def test_the_admin_api_manages_teams(gw: tuple[Gateway, Path]) -> None:
    gateway, _ = gw
    status, team = gateway.admin("POST", "/admin/teams", {"name": "ops", "tpm": 5000})
    assert (status, team["tpm"], team["keys"], team["budget_period"]) == (201, 5000, 0, "month")
    status, body = gateway.admin("POST", "/admin/teams", {"name": "ops"})
    assert (status, body["error"]["message"]) == (409, "name: there is already a team named 'ops'")
    status, body = gateway.admin("POST", "/admin/teams", {"name": "x", "expires_at": "1d"})
    assert status == 400
    assert body["error"]["message"].startswith("expires_at: unknown field")
    status, key = gateway.admin("POST", "/admin/keys", {"name": "k3", "team": "ops"})
    assert (status, key["team"], key["team_name"]) == (201, team["id"], "ops")

    status, listed = gateway.admin("GET", "/admin/teams")
    assert status == 200
    assert {t["name"]: t["keys"] for t in listed["data"]}["ops"] == 1
    status, changed = gateway.admin("PATCH", "/admin/teams/ops", {"tpm": None, "rpm": 9})
    assert (status, changed["tpm"], changed["rpm"]) == (200, None, 9)

    status, body = gateway.admin("DELETE", f"/admin/teams/{team['id']}")
    assert status == 409
    assert body["error"]["message"].startswith(f"id: team '{team['id']}' has 1 key(s)")
    status, body = gateway.admin("DELETE", "/admin/teams/ops?force=maybe")
    assert (status, body["error"]["message"]) == (400, "force: must be true or false")
    status, deleted = gateway.admin("DELETE", "/admin/teams/ops?force=true")
    assert (status, deleted["detached_keys"]) == (200, 1)
    status, shown = gateway.admin("GET", f"/admin/keys/{key['id']}")
    assert (status, shown["team"]) == (200, None)  # detached, still there
    assert ask(gateway, key["key"]).parse().content
    status, body = gateway.admin("GET", "/admin/teams/ops")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    status, body = gateway.admin("PATCH", f"/admin/keys/{key['id']}", {"team": "nope"})
    assert (status, body["error"]["message"]) == (400, "team: no team 'nope'")


def test_the_teams_cli_and_usage_per_team(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    made = cli_json(config, "teams", "create", "--name", "cli", "--max-concurrent", "4",
                    "--budget-usd", "10", "--budget-period", "day")  # fmt: skip
    assert (made["max_concurrent"], made["budget_usd"], made["budget_period"]) == (4, 10, "day")
    key = cli_json(config, "keys", "create", "--name", "k4", "--team", "cli", "--rpm", "50")
    assert key["team"] == made["id"]
    shown = cli(config, "keys", "show", key["id"])
    assert "team=cli" in shown.stdout
    for _ in range(2):
        assert ask(gateway, key["key"]).parse().content

    listed = cli(config, "teams", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if " cli " in row)
    assert "max_concurrent=4" in line
    assert "budget_usd=10.0/day" in line
    refused = cli(config, "teams", "delete", "cli")
    assert refused.returncode == 1
    assert "has 1 key(s)" in refused.stderr

    deadline = time.monotonic() + 10  # the ledger is written in batches
    while True:
        per_team = cli_json(config, "usage", "--group-by", "team")
        row = next((r for r in per_team if r["team"] == made["id"]), None)
        if (row is not None and row["requests"] == 2) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert row is not None
    assert row["requests"] == 2
    table = cli(config, "usage", "--group-by", "team", "--team", "cli")
    assert table.returncode == 0, table.stderr
    assert any(line.split()[:3] == [made["id"], "cli", "2"] for line in table.stdout.splitlines())

    cleared = cli_json(config, "keys", "update", key["id"], "--clear", "team")
    assert cleared["team"] is None
    gone = cli_json(config, "teams", "delete", "cli")
    assert (gone["deleted"], gone["detached_keys"]) == (True, 0)
