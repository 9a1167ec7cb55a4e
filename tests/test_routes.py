"""Routing by scenario (routes.py): the rule table, the config's validation of routes, the
embedded default's routes for Claude Code, the names published for discovery, and the
`switchboard route` and `check` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from click.testing import CliRunner

from switchboard.catalog import DEMO_MODEL, Catalog, embedded_default
from switchboard.cli import main
from switchboard.config import ConfigError, RouteConfig, RouteMatch, parse_config
from switchboard.discovery import Published
from switchboard.kinds import Endpoint
from switchboard.routes import Routes, Scenario, base_name

A, OAI = Endpoint.ANTHROPIC, Endpoint.OPENAI


def routes(*rules: tuple[dict[str, Any], str]) -> Routes:
    return Routes.of([RouteConfig(to=to, match=msgspec.convert(m, RouteMatch)) for m, to in rules])


TABLE = routes(
    ({"has_tool": "web_search_20250305"}, "searcher"),
    ({"model": "claude-*haiku*", "thinking": True}, "thinker"),
    ({"input_tokens_over": 60000}, "long"),
    ({"model": "claude-*haiku*"}, "fast"),
    ({"endpoint": "openai", "model": "gpt-*"}, "openai-only"),
    ({"model": "claude-opus-5-5"}, "big"),
)


@pytest.mark.parametrize(
    ("scenario", "target", "rule"),
    [
        (Scenario("claude-haiku-4-5", A), "fast", 3),
        (Scenario("claude-haiku-4-5", A, thinking=True), "thinker", 1),
        # Order decides: the tool rule comes first, whatever the model.
        (
            Scenario(
                "claude-haiku-4-5", A, thinking=True, tools=frozenset({"web_search_20250305"})
            ),
            "searcher",
            0,
        ),
        (Scenario("claude-sonnet-4-5", A, input_tokens=60001), "long", 2),
        (Scenario("claude-sonnet-4-5", A, input_tokens=60000), "claude-sonnet-4-5", None),
        (Scenario("gpt-5", OAI), "openai-only", 4),
        (Scenario("gpt-5", A), "gpt-5", None),
        (Scenario("claude-opus-5-5", A), "big", 5),
        (Scenario("claude-opus-5-5x", A), "claude-opus-5-5x", None),  # literal: exact only
        (
            Scenario("claude-sonnet-4-5", A, tools=frozenset({"Write", "Bash"})),
            "claude-sonnet-4-5",
            None,
        ),
    ],
)
def test_the_first_rule_that_matches_wins(
    scenario: Scenario, target: str, rule: int | None
) -> None:
    choice = TABLE.choose(scenario)
    assert choice.target == target
    assert (choice.rule.index if choice.rule else None) == rule


def test_a_rule_tests_tools_only_if_one_asks() -> None:
    assert TABLE.needs_tools
    assert not routes(({"model": "x"}, "y")).needs_tools


def test_the_long_context_marker_is_not_part_of_the_name() -> None:
    assert base_name("claude-opus-5-5[1m]") == "claude-opus-5-5"
    assert base_name("claude-opus-5-5") == "claude-opus-5-5"


def test_only_unconditional_literal_rules_publish_a_name() -> None:
    assert TABLE.literal_names() == [("claude-opus-5-5", "big")]


def test_the_table_lists_every_rule_in_order() -> None:
    lines = TABLE.table()
    assert lines[1] == "  routes[0]: has tool web_search_20250305 -> searcher"
    assert lines[2] == "  routes[1]: model claude-*haiku* and thinking true -> thinker"
    assert Routes().table() == ["routes: none (each request's model name is looked up as it is)"]


def config(**extra: Any) -> dict[str, Any]:
    return {
        "providers": [{"name": "up", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}],
        "models": [
            {
                "id": "up/big",
                "channels": [{"provider": "up", "model": "big"}],
                "aliases": ["big-alias", "glob-*"],
                "discovery_name": "claude-big",
                "context_window": 1_000_000,
            },
            {"id": "up/small", "channels": [{"provider": "up", "model": "small"}]},
        ],
        **extra,
    }


def test_a_route_must_lead_to_a_model_named_exactly() -> None:
    ok = parse_config(
        config(
            routes=[
                {"match": {"model": "claude-*"}, "to": t}
                for t in ("up/big", "big-alias", "claude-big")
            ]
        ),
        "test.yaml",
    )
    assert [r.to for r in ok.routes] == ["up/big", "big-alias", "claude-big"]
    with pytest.raises(ConfigError) as bad:
        parse_config(
            config(
                routes=[
                    {"to": "glob-x"},
                    {"match": {"modle": "x"}, "to": "up/big"},
                    {"match": {"endpoint": "gemini"}, "to": "up/big"},
                    {"match": {"input_tokens_over": -1}, "to": "up/big"},
                ]
            ),
            "test.yaml",
        )
    text = "\n".join(bad.value.lines)
    assert "routes[1].match.modle: is not a known field" in text
    assert "routes[2].match.endpoint: invalid value 'gemini'" in text
    with pytest.raises(ConfigError) as missing:
        parse_config(config(routes=[{"to": "glob-x"}]), "test.yaml")
    assert "routes[0].to: no model named 'glob-x'" in str(missing.value)
    with pytest.raises(ConfigError) as negative:
        parse_config(config(routes=[{"match": {"input_tokens_over": -1}, "to": "up/big"}]), "t")
    assert "routes[0].match.input_tokens_over: must not be negative" in str(negative.value)


def test_a_discovery_name_is_one_name_of_one_model() -> None:
    cfg = config()
    cfg["models"][1]["discovery_name"] = "claude-big"
    with pytest.raises(ConfigError) as taken:
        parse_config(cfg, "test.yaml")
    assert "models[1].discovery_name: 'claude-big' already names model 'up/big'" in str(taken.value)
    cfg["models"][1]["discovery_name"] = "claude big\n"
    with pytest.raises(ConfigError) as bad:
        parse_config(cfg, "test.yaml")
    assert "models[1].discovery_name: letters, digits" in str(bad.value)


def test_discovery_publishes_claude_names_and_their_1m_variants() -> None:
    cfg = parse_config(
        config(
            routes=[
                {"match": {"model": "claude-haiku-4-5"}, "to": "up/small"},
                {"match": {"model": "claude-opus-*"}, "to": "up/big"},
            ]
        ),
        "test.yaml",
    )
    catalog = Catalog(cfg)
    published = Published(catalog, Routes.of(cfg.routes), A)
    ids = [p.id for p in published.profiles()]
    # The catalogue's ids first, then the discovery name (1M window: its [1m] variant too) and
    # the literal route name (a glob route publishes nothing).
    assert ids == ["up/big", "up/small", "claude-big", "claude-big[1m]", "claude-haiku-4-5"]
    found = published.find("claude-big[1m]")
    assert found is not None
    assert found.context_window == 1_000_000
    assert published.find("claude-haiku-4-5[1m]") is not None  # the marker is stripped
    assert published.find("claude-opus-4-6") is None
    entry = catalog.resolve("claude-big")  # a discovery name is a name of the model
    assert entry is not None
    assert entry.id == "up/big"


@pytest.mark.parametrize(
    ("env", "opus", "haiku", "other"),
    [
        ({}, DEMO_MODEL, DEMO_MODEL, DEMO_MODEL),
        (
            {"DEEPSEEK_API_KEY": "k"},
            "deepseek/deepseek-v4-pro",
            "deepseek/deepseek-flash",
            "deepseek/deepseek-v4-pro",
        ),
        (
            {"ANTHROPIC_API_KEY": "k", "DEEPSEEK_API_KEY": "k"},
            "claude-opus-5",
            "claude-haiku-4-5",
            "claude-sonnet-5-5",
        ),
        (
            {"MOONSHOT_API_KEY": "k"},
            "moonshotai/kimi-k2.6",
            "moonshotai/kimi-k2-instruct",
            "moonshotai/kimi-k2.6",
        ),
    ],
)
def test_the_embedded_default_routes_claude_code_families(
    env: dict[str, str], opus: str, haiku: str, other: str
) -> None:
    cfg = embedded_default(env)
    table = Routes.of(cfg.routes)
    catalog = Catalog(cfg)
    for name, target in [
        ("claude-opus-5-5", opus),
        ("claude-opus-4-6", opus),
        ("claude-haiku-4-5-20251001", haiku),
        ("claude-3-5-haiku-20241022", haiku),
        ("claude-fable-9", other),  # a family it does not know yet: the sonnet tier
    ]:
        chosen = table.choose(Scenario(base_name(name + "[1m]"), A)).target
        assert chosen == target, name
        assert catalog.resolve(chosen) is not None  # never a 404
    assert table.choose(Scenario("switchboard/demo", A)).rule is None


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_route_command_explains_a_sample_request(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        config(
            routes=[
                {"match": {"model": "claude-*haiku*", "thinking": True}, "to": "up/big"},
                {"match": {"has_tool": "web_search_20250305"}, "to": "up/small"},
            ]
        ),
    )
    runner = CliRunner()
    args = ["route", "--config", str(path), "--model", "claude-haiku-4-5"]
    thinking = runner.invoke(main, [*args, "--thinking"])
    assert thinking.exit_code == 0, thinking.output
    assert "routes[0] matches (model claude-*haiku* and thinking true) -> up/big" in thinking.output
    assert "served by model up/big (channels: up/big); replies name 'claude-haiku-4-5'" in (
        thinking.output
    )
    tool = runner.invoke(main, [*args, "--tool", "web_search_20250305"])
    assert "routes[1] matches (has tool web_search_20250305) -> up/small" in tool.output
    plain = runner.invoke(main, args)
    assert plain.exit_code == 1
    assert "no route matches; 'claude-haiku-4-5' is looked up in the catalogue as it is" in (
        plain.output
    )
    assert "'claude-haiku-4-5': no model has that name, so the client gets 404" in plain.output


def test_route_command_without_config_uses_the_embedded_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY", "MOONSHOT_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "k")
    out = CliRunner().invoke(main, ["route", "--model", "claude-haiku-4-5", "--thinking"])
    assert out.exit_code == 0, out.output
    assert "-> deepseek/deepseek-flash" in out.output


def test_check_prints_the_route_table(tmp_path: Path) -> None:
    path = write(tmp_path, config(routes=[{"match": {"model": "claude-*"}, "to": "up/big"}]))
    out = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert out.exit_code == 0, out.output
    assert "1 routes)" in out.output
    assert "  routes[0]: model claude-* -> up/big" in out.output
