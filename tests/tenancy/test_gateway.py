"""One gateway on SQLite, run as `python -m switchboard serve`, driven with the Anthropic SDK,
the `switchboard` CLI and the admin HTTP API: what a user of keys, limits, budgets and the
usage ledger sees."""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anthropic
import pytest

from .gateway import MASTER, PRICING, Gateway, cli, cli_json, write_config

pytestmark = pytest.mark.e2e

STATIC = "sk-static-" + "s" * 20
ASK = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Path]]:
    d = tmp_path_factory.mktemp("gateway")
    config = write_config(
        d / "switchboard.yaml",
        f"sqlite:///{d}/switchboard.db",
        keys=[{"name": "ci", "key": STATIC}],
    )
    gateway = Gateway(config, d / "gateway.log")
    try:
        yield gateway, config
    finally:
        gateway.stop()


def client(gateway: Gateway, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gateway.url, max_retries=0, timeout=20)


def ask(gateway: Gateway, key: str, model: str = "demo", max_tokens: int = 4) -> Any:
    with client(gateway, key) as c:
        return c.messages.with_raw_response.create(
            model=model,
            max_tokens=max_tokens,
            messages=ASK,  # type: ignore[arg-type]
        )


def new_key(config: Path, *args: str) -> tuple[str, str]:
    made = cli_json(config, "keys", "create", *args)
    return made["id"], made["key"]


def test_a_created_key_works_and_its_responses_carry_its_limits(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    done = cli(config, "keys", "create", "--name", "app", "--rpm", "5", "--tpm", "10000")
    assert done.returncode == 0, done.stderr
    secret = done.stdout.split("secret (shown only now): ")[1].strip()
    assert secret.startswith("sk-sb-")

    raw = ask(gateway, secret)
    message = raw.parse()
    assert message.content[0].text.startswith("Hello from")
    h = raw.headers
    assert (
        h["anthropic-ratelimit-requests-limit"],
        h["anthropic-ratelimit-requests-remaining"],
    ) == (
        "5",
        "4",
    )
    assert h["anthropic-ratelimit-tokens-limit"] == "10000"
    reserved = message.usage.input_tokens + 4
    assert int(h["anthropic-ratelimit-tokens-remaining"]) == 10000 - reserved
    assert datetime.fromisoformat(h["anthropic-ratelimit-requests-reset"].replace("Z", "+00:00"))
    # The secret is shown once: never again by list or show.
    listed = cli(config, "keys", "list")
    assert "app" in listed.stdout
    assert secret not in listed.stdout


def test_keys_update_changes_limits_and_keeps_the_secret(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    key_id, secret = new_key(config, "--name", "tool", "--rpm", "5", "--tpm", "10000")
    done = cli(config, "keys", "update", key_id, "--rpm", "7", "--clear", "tpm", "--name", "bot")
    assert done.returncode == 0, done.stderr
    shown = cli_json(config, "keys", "show", key_id)
    assert (shown["name"], shown["rpm"], shown["tpm"]) == ("bot", 7, None)
    # Not used before the change, so not in the gateway's key cache: the new limits apply.
    h = ask(gateway, secret).headers
    assert h["anthropic-ratelimit-requests-limit"] == "7"
    assert "anthropic-ratelimit-tokens-limit" not in h

    nothing = cli(config, "keys", "update", key_id)
    assert nothing.returncode == 2
    assert "nothing to change" in nothing.stderr
    both = cli(config, "keys", "update", key_id, "--clear", "rpm", "--rpm", "3")
    assert both.returncode == 2
    assert "--clear rpm and a new value for it" in both.stderr
    missing = cli(config, "keys", "update", "key_missing", "--rpm", "3")
    assert missing.returncode == 1
    assert "no key 'key_missing'" in missing.stderr
    bad = cli(config, "keys", "update", key_id, "--expires", "next tuesday")
    assert bad.returncode == 1
    assert "expires_at" in bad.stderr


def test_the_master_key_and_static_keys_keep_working(gw: tuple[Gateway, Path]) -> None:
    gateway, _ = gw
    for key in (MASTER, STATIC):
        raw = ask(gateway, key)
        assert raw.parse().stop_reason == "max_tokens"
        assert "anthropic-ratelimit-requests-limit" not in raw.headers


def test_a_model_outside_the_keys_list_is_403(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    _, secret = new_key(config, "--name", "narrow", "--models", "demo")
    assert ask(gateway, secret, "demo").parse().content
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        ask(gateway, secret, "other")
    assert err.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    assert err.value.body["error"]["message"] == (  # type: ignore[index]
        "model: key 'narrow' may not use model 'other' (allowed: demo)"
    )


def test_revoking_through_the_admin_api_takes_effect_at_once(gw: tuple[Gateway, Path]) -> None:
    gateway, _ = gw
    status, made = gateway.admin("POST", "/admin/keys", {"name": "temp"})
    assert status == 201
    assert ask(gateway, made["key"]).parse().content  # now cached for key_cache_seconds (60)
    status, revoked = gateway.admin("DELETE", f"/admin/keys/{made['id']}")
    assert (status, revoked["status"]) == (200, "revoked")
    with pytest.raises(anthropic.AuthenticationError) as err:
        ask(gateway, made["key"])
    # The SDK sends a key given to a custom base URL as Authorization: Bearer; the refusal says so.
    assert err.value.body["error"]["message"] == "Authorization: key 'temp' has been revoked"  # type: ignore[index]


def test_an_expired_key_is_401(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    _, secret = new_key(config, "--name", "old", "--expires", "2001-02-03T04:05:06Z")
    with pytest.raises(anthropic.AuthenticationError) as err:
        ask(gateway, secret)
    assert err.value.body["error"]["message"] == (  # type: ignore[index]
        "Authorization: key 'old' expired at 2001-02-03T04:05:06Z"
    )


def test_over_the_request_rate_is_429_with_retry_after(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    _, secret = new_key(config, "--name", "slow", "--rpm", "2")
    ask(gateway, secret)
    ask(gateway, secret)
    with pytest.raises(anthropic.RateLimitError) as err:
        ask(gateway, secret)
    h = err.value.response.headers
    assert 0 < int(h["retry-after"]) <= 60
    assert h["anthropic-ratelimit-requests-remaining"] == "0"
    assert err.value.body["error"]["message"].startswith(  # type: ignore[index]
        "rate limit: key 'slow' has made 2 requests in the last minute, its limit is 2"
    )


def test_tokens_per_minute_are_settled_with_real_usage(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    estimate = ask(gateway, MASTER).parse().usage.input_tokens
    # Each request reserves estimate + 1000 but uses about estimate + 12: two fit unsettled,
    # five fit only if every request gives back what it did not use.
    _, secret = new_key(config, "--name", "tokens", "--tpm", str(2 * (estimate + 1000) + 10))
    for _ in range(5):
        ask(gateway, secret, max_tokens=1000)
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(gateway, secret, max_tokens=5000)
    assert err.value.body["error"]["message"].startswith("max_tokens: this request reserves")  # type: ignore[index]


def cost_of(usage: Any) -> int:
    nano: float = 1000 * (
        PRICING["input"] * usage.input_tokens + PRICING["output"] * usage.output_tokens
    )
    return math.ceil(round(nano, 6))


def test_a_request_that_would_go_over_budget_is_402(gw: tuple[Gateway, Path]) -> None:
    gateway, config = gw
    each = cost_of(ask(gateway, MASTER).parse().usage)
    budget = 1.5 * each / 1e9
    _, secret = new_key(config, "--name", "thrifty", "--budget-usd", repr(budget))
    ask(gateway, secret)
    with pytest.raises(anthropic.APIStatusError) as err:
        ask(gateway, secret)
    assert err.value.status_code == 402
    error = err.value.body["error"]  # type: ignore[index]
    assert error["type"] == "billing_error"
    assert error["message"].startswith(f"budget: key 'thrifty' has spent ${each / 1e9:.6f}")
    assert "of its monthly budget" in error["message"]
    assert "resets at " in error["message"]
    assert error["message"].endswith("-01T00:00:00Z")


def test_admin_api(gw: tuple[Gateway, Path]) -> None:
    gateway, _ = gw
    status, made = gateway.admin(
        "POST", "/admin/keys", {"name": "svc", "rpm": 10, "budget_usd": 5, "budget_period": "day"}
    )
    assert status == 201
    assert made["key"].startswith("sk-sb-")
    status, listed = gateway.admin("GET", "/admin/keys")
    assert status == 200
    assert made["id"] in [k["id"] for k in listed["data"]]
    assert made["key"] not in str(listed)
    status, shown = gateway.admin("GET", f"/admin/keys/{made['id']}")
    assert (shown["rpm"], shown["budget_usd"], shown["budget_period"]) == (10, 5.0, "day")
    status, patched = gateway.admin("PATCH", f"/admin/keys/{made['id']}", {"rpm": None, "tpm": 99})
    assert (status, patched["rpm"], patched["tpm"]) == (200, None, 99)

    status, body = gateway.admin("PATCH", f"/admin/keys/{made['id']}", {"rpm": "fast"})
    assert status == 400
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "rpm: must be a whole number, 0 or more",
    }
    status, body = gateway.admin("GET", "/admin/keys/key_missing")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    status, body = gateway.admin("GET", "/admin/keys", key=made["key"])
    assert (status, body["error"]["type"]) == (403, "permission_error")
    status, body = gateway.admin("GET", "/admin/keys", key="sk-sb-nonsense")
    assert (status, body["error"]["type"]) == (401, "authentication_error")
    status, body = gateway.admin("GET", "/admin/usage?group_by=week")
    assert (status, body["error"]["message"]) == (
        400,
        "group_by: must be one of day, key, model, session, team",
    )


def test_the_ledger_has_every_request_after_a_graceful_stop(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", f"sqlite:///{tmp_path}/sb.db")
    key_id, secret = new_key(config, "--name", "metered", "--rpm", "3")
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        usage = ask(gateway, secret).parse().usage
        with (
            client(gateway, secret) as c,
            c.messages.stream(
                model="demo",
                max_tokens=6,
                messages=ASK,  # type: ignore[arg-type]
            ) as stream,
        ):
            streamed = stream.get_final_message().usage
        ask(gateway, secret, "demo")
        with pytest.raises(anthropic.RateLimitError):
            ask(gateway, secret)
    finally:
        # uvicorn shuts down gracefully, then re-raises SIGTERM: the exit status says so.
        assert gateway.stop() in (0, -signal.SIGTERM)
    rows = cli_json(config, "usage", "--key", key_id)
    assert [(r["status"], r["stream"], r["error_type"]) for r in reversed(rows)] == [
        (200, False, None),
        (200, True, None),
        (200, False, None),
        (429, False, "rate_limit_error"),
    ]
    first, stream_row = rows[3], rows[2]
    assert (first["model"], first["provider"], first["upstream_model"]) == ("demo", "demo", "demo")
    assert (first["input_tokens"], first["output_tokens"]) == (usage.input_tokens, 4)
    assert first["cost_usd"] == pytest.approx(cost_of(usage) / 1e9)
    assert stream_row["output_tokens"] == streamed.output_tokens == 6
    assert stream_row["ttft_ms"] is not None
    assert stream_row["ttft_ms"] <= stream_row["latency_ms"]
    assert rows[0]["cost_usd"] == 0  # a refused request costs nothing
    assert all(not r["client_disconnected"] for r in rows)

    report = cli(config, "usage", "--group-by", "key", "--csv")
    assert report.stdout.splitlines()[0].startswith("key,requests,input_tokens")
    assert report.stdout.splitlines()[1].startswith(f"{key_id},4,")
