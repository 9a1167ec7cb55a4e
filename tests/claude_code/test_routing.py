"""Routing by scenario, model discovery and cost by session through the real gateway: a config's
`routes:` send each kind of request (thinking, a server tool, a long prompt, the OpenAI surface)
to its own model on a scripted upstream, replies name the model the client sent, a key's
allow-list holds for the routed model, `GET /v1/models` publishes claude-* names, and the ledger
groups requests by Claude Code session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
import yaml
from anthropic.types import MessageParam, MetadataParam

from tests.support.closing import opened
from tests.support.mock_upstream import ScriptedUpstream
from tests.tenancy.gateway import MASTER, Gateway, cli, cli_json

SESSION = "6a0f1e2d-3c4b-4a59-8e7d-1f2a3b4c5d6e"
OTHER_SESSION = "0c2d4e6f-1a3b-4c5d-9e8f-7a6b5c4d3e2f"


def model(model_id: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": model_id,
        "channels": [{"provider": "up", "model": upstream}],
        "pricing": {"input": 1.0, "output": 2.0},
        **extra,
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("routing")


@pytest.fixture(scope="module")
def config(work: Path) -> Path:
    return work / "config.yaml"


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, work: Path, config: Path) -> Iterator[Gateway]:
    data = {
        "master_key": MASTER,
        "database": f"sqlite:///{work / 'ledger.db'}",
        "providers": [{"name": "up", "kind": "openai", "base_url": upstream.openai_base}],
        # A web_search tool on a translated request needs a search engine (servertools/); the
        # scripted model answers without searching, so none is ever asked.
        "search": {"backend": "searxng", "url": upstream.base_url + "/searxng"},
        "models": [
            model(
                "vendor/coder", "coder-up", discovery_name="claude-coder", context_window=1_000_000
            ),
            model("vendor/fast", "fast-up"),
            model("vendor/thinker", "thinker-up", capabilities={"thinking": True}),
            model("vendor/searcher", "searcher-up"),
            model("vendor/long", "long-up"),
            model("vendor/openai", "openai-up"),
        ],
        "routes": [
            {"match": {"has_tool": "web_search_20250305"}, "to": "vendor/searcher"},
            {"match": {"model": "claude-*haiku*", "thinking": True}, "to": "vendor/thinker"},
            {"match": {"input_tokens_over": 20000}, "to": "vendor/long"},
            {"match": {"model": "claude-*haiku*"}, "to": "vendor/fast"},
            {"match": {"endpoint": "openai", "model": "claude-*"}, "to": "vendor/openai"},
            {"match": {"model": "claude-sonnet-5-5"}, "to": "vendor/coder"},
            {"match": {"model": "claude-*"}, "to": "vendor/coder"},
        ],
    }
    config.write_text(yaml.safe_dump(data))
    gw = Gateway(config, work / "gateway.log")
    try:
        yield gw
    finally:
        gw.stop()


def client(gateway: Gateway, key: str = MASTER, **headers: str) -> anthropic.Anthropic:
    return opened(
        anthropic.Anthropic(
            base_url=gateway.url + "/anthropic", api_key=key, default_headers=headers, max_retries=0
        )
    )


def served(upstream: ScriptedUpstream, before: int) -> str:
    """The upstream model the last request reached."""
    received = upstream.received[before:]
    assert len(received) == 1
    body = received[0].json
    assert isinstance(body, dict)
    return str(body["model"])


HI: list[MessageParam] = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("name", "extra", "upstream_model"),
    [
        ("claude-haiku-4-5", {}, "fast-up"),
        ("claude-haiku-4-5[1m]", {}, "fast-up"),  # Claude Code's 1M marker is stripped
        (
            "claude-haiku-4-5",
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
            "thinker-up",
        ),
        (
            "claude-haiku-4-5",
            {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}]},
            "searcher-up",
        ),
        ("claude-opus-5-5", {}, "coder-up"),
        (
            "claude-sonnet-5-5",
            {"messages": [{"role": "user", "content": "word " * 20000}]},
            "long-up",
        ),
        ("claude-coder", {}, "coder-up"),  # a discovery name is a name of its model
        ("vendor/fast", {}, "fast-up"),  # no route: the catalogue as before
    ],
)
def test_each_scenario_goes_to_its_model_and_the_reply_names_the_clients(
    gateway: Gateway,
    upstream: ScriptedUpstream,
    name: str,
    extra: dict[str, Any],
    upstream_model: str,
) -> None:
    before = len(upstream.received)
    body: dict[str, Any] = {"model": name, "max_tokens": 50, "messages": HI, **extra}
    reply = client(gateway).messages.create(**body)
    assert reply.model == name
    assert served(upstream, before) == upstream_model


def test_the_openai_surface_is_routed_by_its_endpoint(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.received)
    oai = opened(openai.OpenAI(base_url=gateway.url + "/openai/v1", api_key=MASTER, max_retries=0))
    reply = oai.chat.completions.create(model="claude-opus-5-5", messages=HI)  # type: ignore[arg-type]
    assert reply.model == "claude-opus-5-5"
    assert served(upstream, before) == "openai-up"


def test_a_name_no_route_or_model_knows_is_404(gateway: Gateway) -> None:
    with pytest.raises(anthropic.NotFoundError) as err:
        client(gateway).messages.create(model="gpt-unknown", max_tokens=5, messages=HI)  # type: ignore[arg-type]
    assert "gpt-unknown" in str(err.value)


def test_a_key_allow_list_holds_for_the_routed_model(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    # Allowed the client's name but not where it is routed: refused (the routed model is what
    # is served and billed); allowed the routed model: served under any name routed to it.
    status, made = gateway.admin(
        "POST", "/admin/keys", {"name": "fast-only", "models": ["vendor/fast", "claude-opus-*"]}
    )
    assert status == 201, made
    key = made["key"]
    before = len(upstream.received)
    assert (
        client(gateway, key)
        .messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HI)
        .model
        == "claude-haiku-4-5"
    )
    assert served(upstream, before) == "fast-up"
    with pytest.raises(anthropic.PermissionDeniedError) as err:
        client(gateway, key).messages.create(model="claude-opus-5-5", max_tokens=5, messages=HI)
    assert err.value.body["error"]["message"] == (  # type: ignore[index]
        "model: key 'fast-only' may not use model 'claude-opus-5-5', which is 'vendor/coder' "
        "(allowed: vendor/fast, claude-opus-*)"
    )
    assert len(upstream.received) == before + 1  # the refused one never went upstream


def test_models_list_publishes_claude_names_for_discovery(gateway: Gateway) -> None:
    # What Claude Code 2.1.330 sends (tests/clients test the real one): limit=1000, a bearer
    # token, anthropic-version.
    listed = httpx.get(
        gateway.url + "/anthropic/v1/models?limit=1000",
        headers={"Authorization": f"Bearer {MASTER}", "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    ids = [m["id"] for m in listed.json()["data"]]
    assert ids[:6] == [
        "vendor/coder",
        "vendor/fast",
        "vendor/thinker",
        "vendor/searcher",
        "vendor/long",
        "vendor/openai",
    ]
    # The discovery name (1M window: with its [1m] variant), and the one literal route name.
    assert ids[6:] == [
        "claude-coder",
        "claude-coder[1m]",
        "claude-sonnet-5-5",
        "claude-sonnet-5-5[1m]",
    ]
    info = client(gateway).models.retrieve("claude-coder[1m]")
    assert (info.id, info.max_input_tokens) == ("claude-coder[1m]", 1_000_000)


def test_the_ledger_groups_cost_by_claude_code_session(
    gateway: Gateway, upstream: ScriptedUpstream, config: Path
) -> None:
    user_id = orjson.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": SESSION})
    meta: MetadataParam = {"user_id": user_id.decode()}
    by_body = client(gateway)
    by_header = client(gateway, **{"X-Claude-Code-Session-Id": OTHER_SESSION})
    for c, n in ((by_body, 2), (by_header, 1)):
        for _ in range(n):
            c.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HI, metadata=meta)
    # The device id in metadata.user_id never reached the other vendor's upstream.
    last = upstream.received[-1].json
    assert isinstance(last, dict)
    assert "user" not in last
    deadline = time.monotonic() + 10
    while True:  # the ledger writes in batches
        groups = {r["session"]: r for r in cli_json(config, "usage", "--group-by", "session")}
        if groups.get(SESSION, {}).get("requests") == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert groups[SESSION]["requests"] == 2
    assert groups[OTHER_SESSION]["requests"] == 1
    assert groups[SESSION]["cost_usd"] > 0
    assert groups["(none)"]["requests"] >= 1  # the earlier requests carried none
    table = cli(config, "usage", "--group-by", "session").stdout
    assert f"{SESSION} " in table
    assert "SESSION" in table.splitlines()[0]
    status, api = gateway.admin("GET", "/admin/usage?group_by=session")
    assert status == 200
    assert {r["session"] for r in api["data"]} >= {SESSION, OTHER_SESSION}


def test_route_command_agrees_with_the_gateway(gateway: Gateway, config: Path) -> None:
    done = cli(config, "route", "--model", "claude-haiku-4-5", "--thinking")
    assert done.returncode == 0, done.stderr
    assert (
        "routes[1] matches (model claude-*haiku* and thinking true) -> vendor/thinker"
        in done.stdout
    )
