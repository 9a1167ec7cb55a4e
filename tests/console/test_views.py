"""What the console and its admin API show after real requests through the gateway: the
overview's numbers, the requests page and its details, usage and CSV, keys shared with the CLI,
a channel put back in service."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import pytest

from switchboard.storage import Storage
from switchboard.tenancy.usage import UsageRow
from tests.console.conftest import CLIENT_KEY, MASTER_KEY, PRICING, api, ask, wait_ledger
from tests.console.console_client import ConsoleClient
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e


def cli(gateway: GatewayProcess, *args: str) -> Any:
    assert gateway.config_path is not None
    done = subprocess.run(
        [sys.executable, "-m", "switchboard", *args, "--config", str(gateway.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_overview_counts_what_went_through_the_gateway(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    before = api(gateway, "/admin/overview", window="hour")["overall"]
    before_rows = wait_ledger(gateway, 0)["total"]
    replies = [ask(gateway, CLIENT_KEY) for _ in range(4)]
    with pytest.raises(anthropic.APIStatusError):
        ask(gateway, CLIENT_KEY, model="test/dead")
    wait_ledger(gateway, before_rows + 5)
    overall = api(gateway, "/admin/overview", window="hour")["overall"]
    input_tokens = sum(r.usage.input_tokens for r in replies)
    output_tokens = sum(r.usage.output_tokens for r in replies)
    assert overall["requests"] - before["requests"] == 5
    assert overall["errors"] - before["errors"] == 1
    assert overall["input_tokens"] - before["input_tokens"] == input_tokens
    assert overall["output_tokens"] - before["output_tokens"] == output_tokens
    cost = (input_tokens * PRICING["input"] + output_tokens * PRICING["output"]) / 1e6
    assert overall["cost_usd"] - before["cost_usd"] == pytest.approx(cost, abs=1e-8)
    assert overall["p50_ms"] is not None
    assert overall["p95_ms"] >= overall["p50_ms"]
    # The page shows the same numbers, and splits them by model, key and channel.
    page = console.http.get("/console", params={"window": "hour", "by": "model"}).text
    assert f'<dd id="stat-requests">{overall["requests"]:,}</dd>' in page
    assert f'<dd id="stat-errors">{overall["errors"]:,}</dd>' in page
    assert f'<dd id="stat-output">{overall["output_tokens"]:,}</dd>' in page
    assert "<td>switchboard/demo</td>" in page
    assert "<td>test/dead</td>" in page
    by_key = api(gateway, "/admin/overview", window="day", by="key")
    assert "config:ci" in dict(by_key["by_group"])
    by_channel = api(gateway, "/admin/overview", window="30d", by="channel")
    assert len(by_channel["starts"]) == 30
    assert "demo/demo" in by_channel["groups"]
    assert sum(by_channel["groups"]["demo/demo"]["requests"]) >= 4


def test_requests_page_filters_pages_and_opens_details(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    rows = wait_ledger(gateway, 0)["total"]
    with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="switchboard/demo", max_tokens=32, messages=[{"role": "user", "content": "x"}]
        )
    request_id = raw.headers["request-id"]
    wait_ledger(gateway, rows + 1)
    newest = api(gateway, "/admin/requests", limit="1")
    assert newest["entries"][0]["request_id"] == request_id
    errors = api(gateway, "/admin/requests", outcome="error")
    assert all(e["status"] >= 400 or e["error_type"] for e in errors["entries"])
    by_model = api(gateway, "/admin/requests", model="switchboard/demo", sort="latency")
    latencies = [e["latency_ms"] for e in by_model["entries"]]
    assert latencies == sorted(latencies, reverse=True)
    assert api(gateway, f"/admin/requests/{request_id}")["channel"] == "demo/demo"
    page = console.http.get("/console/requests", params={"model": "switchboard/demo"})
    assert f'href="/console/requests/{request_id}"' in page.text
    details = console.http.get(f"/console/requests/{request_id}")
    assert details.status_code == 200
    assert "demo/demo" in details.text
    assert "config:ci" in details.text
    assert console.http.get("/console/requests/req_nope").status_code == 404
    # Pages of 50 on the server; a second page holds the older rows.
    for _ in range(51 - api(gateway, "/admin/requests")["total"]):
        ask(gateway, CLIENT_KEY)
    total = wait_ledger(gateway, 51)["total"]
    second = console.http.get("/console/requests", params={"page": "2"}).text
    assert f"page 2 of {-(-total // 50)}" in second
    assert second.count('href="/console/requests/req_') == total - 50


def test_usage_page_and_csv_match_the_cli(gateway: GatewayProcess, console: ConsoleClient) -> None:
    ask(gateway, CLIENT_KEY)
    wait_ledger(gateway, 1)
    time.sleep(0.2)
    report = cli(gateway, "usage", "--group-by", "model", "--json")
    page = console.http.get("/console/usage", params={"group_by": "model"}).text
    for row in report:
        assert f'<td>{row["model"]}</td><td class="n">{row["requests"]:,}</td>' in page
    grouped = console.http.get("/console/usage.csv", params={"group_by": "model"})
    assert grouped.headers["content-disposition"].startswith("attachment;")
    parsed = list(csv.DictReader(io.StringIO(grouped.text)))
    assert [(r["model"], int(r["requests"])) for r in parsed] == [
        (r["model"], r["requests"]) for r in report
    ]
    rows = list(csv.DictReader(io.StringIO(console.http.get("/console/usage.csv").text)))
    assert len(rows) == sum(r["requests"] for r in report)
    assert {"request_id", "key_id", "model", "cost_usd"} <= set(rows[0])


def test_keys_created_in_the_console_and_the_cli_are_the_same_keys(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    created = console.post(
        "/console/keys",
        {
            "name": "from-console",
            "models": "switchboard/demo",
            "rpm": "120",
            "tpm": "50000",
            "max_concurrent": "3",
            "budget_usd": "12.5",
            "budget_period": "day",
            "expires_at": "2099-01-31T12:00",
        },
    )
    assert created.status_code == 201, created.text
    listed = {k["name"]: k for k in cli(gateway, "keys", "list", "--json")}
    key = listed["from-console"]
    assert key["models"] == ["switchboard/demo"]
    assert (key["rpm"], key["tpm"], key["max_concurrent"]) == (120, 50000, 3)
    assert (key["budget_usd"], key["budget_period"]) == (12.5, "day")
    assert key["expires_at"] == "2099-01-31T12:00:00Z"
    from_cli = cli(gateway, "keys", "create", "--name", "from-cli", "--rpm", "7", "--json")
    page = console.http.get("/console/keys").text
    assert f'data-key-id="{from_cli["id"]}" data-key-name="from-cli"' in page
    assert "7 rpm" in page
    # Edit: change the rpm, clear the budget; the CLI sees it.
    edited = console.post(
        f"/console/keys/{key['id']}",
        {"name": "from-console", "models": "", "rpm": "30", "budget_period": "month"},
    )
    assert edited.status_code == 303
    shown = cli(gateway, "keys", "show", key["id"], "--json")
    assert (shown["rpm"], shown["budget_usd"], shown["models"], shown["tpm"]) == (
        30,
        None,
        None,
        None,
    )
    # A refused field is named on the form, and nothing changes.
    bad = console.post(f"/console/keys/{key['id']}", {"name": "from-console", "rpm": "-3"})
    assert bad.status_code == 400
    assert "rpm: must be a whole number" in bad.text
    assert console.post("/console/keys", {"name": ""}).status_code == 400
    # Revoked in the CLI: the console says so.
    cli(gateway, "keys", "revoke", from_cli["id"], "--json")
    page = console.http.get("/console/keys").text
    row = re.search(rf'data-key-id="{from_cli["id"]}".*?</tr>', page, re.S)
    assert row is not None
    assert "state-revoked" in row.group(0)


def table_row(console: ConsoleClient, path: str, marker: str, waited: str) -> str:
    """The page's table row marked `marker`, once the ledger has reached it: it holds `waited`
    (with "": it no longer says the key was never used)."""
    deadline = time.monotonic() + 10
    while True:
        found = re.search(marker + r".*?</tr>", console.http.get(path).text, re.S)
        assert found is not None
        shown = found.group(0)
        ready = waited in shown if waited else "never" not in shown
        if ready or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def test_budget_used_and_last_used_on_the_keys_page(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    created = console.post("/console/keys", {"name": "spender", "budget_usd": "5"})
    secret = re.search(r'<code id="secret">(sk-sb-[^<]+)</code>', created.text)
    assert secret is not None
    reply = ask(gateway, secret.group(1))
    cost = (reply.usage.input_tokens * 3.0 + reply.usage.output_tokens * 15.0) / 1e6
    shown = table_row(console, "/console/keys", 'data-key-name="spender"', "")
    assert f"${cost:,.4f} of $5.00 / month" in shown


def test_a_channel_in_cooldown_is_put_back_in_service(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    def dead_state() -> dict[str, Any]:
        channels = api(gateway, "/admin/channels")["channels"]
        found: dict[str, Any] = next(c for c in channels if c["channel"] == "dead/gone")
        return found

    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError):
            ask(gateway, CLIENT_KEY, model="test/dead")
    assert dead_state()["state"] == "cooldown"
    page = console.http.get("/console/channels").text
    assert "Put back in service" in page
    assert "state-cooldown" in page
    kinds = re.search(r"no reply: api_error ×(\d+)", page)  # failures by kind, from the router
    assert kinds is not None
    assert int(kinds.group(1)) >= 3
    answer = console.post(
        "/console/channels",
        {"channel": "dead/gone", "key": "0"},
        csrf=console.csrf("/console/channels"),
    )
    assert answer.status_code == 303
    assert dead_state()["state"] == "healthy"
    after = console.http.get(answer.headers["location"]).text
    assert "dead/gone#0 is back in service" in after
    # The admin API does the same.
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError):
            ask(gateway, CLIENT_KEY, model="test/dead")
    with httpx.Client(base_url=gateway.url, trust_env=False) as http:
        reset = http.post(
            "/admin/channels/reset",
            json={"channel": "dead/gone", "key": 0},
            headers={"x-api-key": MASTER_KEY},
        )
        assert reset.status_code == 200
        assert reset.json()["state"] == "healthy"
        missing = http.post(
            "/admin/channels/reset",
            json={"channel": "nope/none", "key": 0},
            headers={"x-api-key": MASTER_KEY},
        )
        assert missing.status_code == 404


def test_models_page_shows_the_catalogue(gateway: GatewayProcess, console: ConsoleClient) -> None:
    models = {m["id"]: m for m in api(gateway, "/admin/models")["data"]}
    demo = models["switchboard/demo"]
    assert demo["aliases"] == ["demo"]
    assert demo["endpoints"] == ["anthropic", "openai"]
    assert (demo["context_window"], demo["max_output_tokens"]) == (200000, 8192)
    assert demo["pricing"]["output"] == 15.0
    page = console.http.get("/console/models").text
    assert "<code>switchboard/demo</code>" in page
    assert "200,000" in page
    assert "8,192" in page
    assert "$3.0 / $15.0" in page
    assert "demo/demo (priority 0, weight 1)" in page


def test_in_flight_shows_a_request_being_served(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    assert gateway.port is not None
    # A request whose body is still arriving is in flight until it has all come.
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            + f"x-api-key: {CLIENT_KEY}\r\n".encode()
            + b"content-type: application/json\r\ncontent-length: 1000\r\n\r\n{"
        )
        deadline = time.monotonic() + 5
        while not api(gateway, "/admin/inflight")["data"] and time.monotonic() < deadline:
            time.sleep(0.05)
        (shown,) = api(gateway, "/admin/inflight")["data"]
        assert (shown["method"], shown["path"], shown["streaming"]) == (
            "POST",
            "/v1/messages",
            False,
        )
        fragment = console.http.get("/console/inflight").text
        assert "<td>POST</td><td>/v1/messages</td>" in fragment
        overview = console.http.get("/console").text
        assert "<td>/v1/messages</td>" in overview
    deadline = time.monotonic() + 5
    while api(gateway, "/admin/inflight")["data"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Nothing in flight" in console.http.get("/console/inflight").text


def write_row(gateway: GatewayProcess, request_id: str, **fields: Any) -> None:
    """A ledger row written as the gateway's recorder writes one (`fields` over a served
    request's)."""
    config = gateway.config
    assert isinstance(config, Mapping)
    row = UsageRow(
        at=datetime.now(UTC),
        request_id=request_id,
        key_id="config:ci",
        model="switchboard/demo",
        provider="demo",
        channel="demo/demo",
        upstream_model="demo",
        input_tokens=3,
        output_tokens=4,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cost_nusd=0,
        latency_ms=1.0,
        ttft_ms=None,
        stream=True,
        status=200,
        error_type=None,
        client_disconnected=False,
        **fields,
    )

    async def write() -> None:
        storage = Storage(str(config["database"]))
        try:
            await storage.ledger.write([row])
        finally:
            await storage.close()

    asyncio.run(write())


def test_what_translation_dropped_is_on_the_requests_page_and_in_the_details(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    """The loss report comes from the ledger row (`usage.dropped`), as a client named it: the
    page escapes it."""
    dropped = "tools[0].cache_control; tool <b>x</b>: input_schema.$schema"
    write_row(gateway, "req_dropped_in_console", dropped=dropped)
    entry = api(gateway, "/admin/requests/req_dropped_in_console")
    assert entry["dropped"] == dropped
    page = console.http.get("/console/requests").text
    assert "tools[0].cache_control; tool &lt;b&gt;x&lt;/b&gt;: input_schema.$schema" in page
    details = console.http.get("/console/requests/req_dropped_in_console").text
    assert "<li><code>tools[0].cache_control</code></li>" in details
    assert "<li><code>tool &lt;b&gt;x&lt;/b&gt;: input_schema.$schema</code></li>" in details
    plain = console.http.get(f"/console/requests/{newest_served(gateway)}").text
    assert '<dd id="dropped">nothing</dd>' in plain


def test_the_details_show_the_server_tools_a_request_used(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    """Web searches and fetches the gateway ran (the ledger row's counts), each only when
    there were some; the admin API has them too."""
    write_row(gateway, "req_tools_in_console", web_search_requests=1234, web_fetch_requests=2)
    write_row(gateway, "req_fetched_in_console", web_fetch_requests=1)
    entry = api(gateway, "/admin/requests/req_tools_in_console")
    assert (entry["web_search_requests"], entry["web_fetch_requests"]) == (1234, 2)
    both = console.http.get("/console/requests/req_tools_in_console").text
    assert '<dt>Web searches</dt><dd id="web-searches">1,234</dd>' in both
    assert '<dt>Web fetches</dt><dd id="web-fetches">2</dd>' in both
    fetched = console.http.get("/console/requests/req_fetched_in_console").text
    assert '<dt>Web fetches</dt><dd id="web-fetches">1</dd>' in fetched
    assert "Web searches" not in fetched
    plain = console.http.get(f"/console/requests/{newest_served(gateway)}").text
    assert "Web searches" not in plain
    assert "Web fetches" not in plain


def newest_served(gateway: GatewayProcess) -> str:
    before = api(gateway, "/admin/requests")["total"]
    ask(gateway, CLIENT_KEY)
    wait_ledger(gateway, before + 1)
    rows = api(gateway, "/admin/requests", limit="1", model="switchboard/demo")
    request_id: str = rows["entries"][0]["request_id"]
    return request_id


def test_teams_made_in_the_console_are_the_clis_and_show_their_keys_and_spend(
    gateway: GatewayProcess, console: ConsoleClient
) -> None:
    made = console.post(
        "/console/teams",
        {"name": "crew", "rpm": "90", "budget_usd": "4", "budget_period": "day", "models": ""},
    )
    assert made.status_code == 303, made.text
    team = cli(gateway, "teams", "show", "crew", "--json")
    assert (team["rpm"], team["budget_usd"], team["budget_period"], team["keys"]) == (
        90,
        4,
        "day",
        0,
    )
    again = console.post("/console/teams", {"name": "crew"})
    assert again.status_code == 409
    assert "already a team named" in again.text
    # A key made in the console joins it; the keys page shows the team.
    created = console.post("/console/keys", {"name": "crewmate", "team": "crew"})
    assert created.status_code == 201, created.text
    secret = re.search(r'<code id="secret">(sk-sb-[^<]+)</code>', created.text)
    assert secret is not None
    keys = console.http.get("/console/keys").text
    row = re.search(r'data-key-name="crewmate".*?</tr>', keys, re.S)
    assert row is not None
    assert '<td class="team">crew</td>' in row.group(0)
    reply = ask(gateway, secret.group(1))
    cost = (reply.usage.input_tokens * 3.0 + reply.usage.output_tokens * 15.0) / 1e6
    shown = table_row(console, "/console/teams", 'data-team-name="crew"', f"${cost:,.4f} of")
    assert f"${cost:,.4f} of $4.00 / day" in shown
    assert "90 rpm" in shown
    usage = console.http.get("/console/usage", params={"group_by": "team"}).text
    assert f'{team["id"]} <small class="muted">crew</small>' in usage
    # Deleting it (the page asks first) detaches the key, which keeps working.
    deleted = console.post(f"/console/teams/{team['id']}/delete", {})
    assert deleted.status_code == 303
    assert cli(gateway, "teams", "list", "--json") == []
    assert ask(gateway, secret.group(1)).content
