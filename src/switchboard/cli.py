"""The `switchboard` command: serve, check, keys, teams, usage, db."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from switchboard.config import load_for_cli
from switchboard.kinds import Endpoint


@click.group()
@click.version_option(package_name="switchboard")
def main() -> None:
    """Switchboard: the Anthropic Messages API over any LLM provider."""


@main.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8787).")
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes sharing the port (one per core).",
)
def serve(
    config_file: Path | None, host: str | None, port: int | None, log_level: str, workers: int
) -> None:
    """Run the gateway. Without --config: the built-in catalogue, providers from the usual
    environment variables, and the offline demo model `switchboard/demo`."""
    from switchboard.server import run
    from switchboard.storage import describe

    config = load_for_cli(config_file)
    # The CLI's storage commands say the same: a user can see both use one database.
    click.echo(f"switchboard: using the database {describe(config.database)}", err=True)
    run(
        config,
        host=host,
        port=port,
        log_level=log_level.upper(),
        workers=workers,
        config_file=config_file,
    )


@main.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    required=True,
    help="YAML config file to validate.",
)
def check(config_file: Path) -> None:
    """Validate a config file; exit non-zero with the reasons if it is wrong. Warns (and
    still exits 0) about models with no price, which keys with a budget may not use."""
    config = load_for_cli(config_file)
    for i, m in enumerate(config.models):
        if m.pricing is None:
            click.echo(
                f"{config_file}: warning: models[{i}] '{m.id}' has no price (in the config "
                "or the built-in catalogue): keys with a budget are refused on it; set "
                f"models[{i}].pricing, or `pricing: {{}}` for a free model",
                err=True,
            )
    click.echo(
        f"{config_file}: ok ({len(config.providers)} providers, {len(config.models)} models, "
        f"{len(config.keys)} keys, {len(config.routes)} routes)"
    )
    from switchboard.routes import Routes

    for line in Routes.of(config.routes).table():
        click.echo(line)


@main.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--model", required=True, help="The model name the client sends.")
@click.option("--thinking", is_flag=True, help="The request asks for thinking.")
@click.option("--tool", "tools", multiple=True, help="A tool type or name it carries (repeatable).")
@click.option("--input-tokens", type=click.IntRange(min=0), default=0, help="Its input tokens.")
@click.option(
    "--endpoint",
    type=click.Choice([e.value for e in Endpoint]),
    default=Endpoint.ANTHROPIC.value,
    show_default=True,
    help="The surface it comes in by.",
)
def route(
    config_file: Path | None,
    model: str,
    thinking: bool,
    tools: tuple[str, ...],
    input_tokens: int,
    endpoint: str,
) -> None:
    """Explain which route a sample request takes and which model serves it (without --config:
    the embedded default, with the providers of the environment). Exits 1 if none would."""
    from switchboard.catalog import Catalog
    from switchboard.routes import Routes, Scenario, base_name

    config = load_for_cli(config_file)
    routes = Routes.of(config.routes)
    scenario = Scenario(
        model=base_name(model),
        endpoint=Endpoint(endpoint),
        thinking=thinking,
        input_tokens=input_tokens,
        tools=frozenset(tools),
    )
    choice = routes.choose(scenario)
    if choice.rule is None:
        click.echo(f"no route matches; '{scenario.model}' is looked up in the catalogue as it is")
    else:
        rule = choice.rule
        click.echo(f"routes[{rule.index}] matches ({rule.describe()}) -> {rule.to}")
    entry = Catalog(config).resolve(choice.target)
    if entry is None or scenario.endpoint not in entry.profile.endpoints:
        why = "no model has that name" if entry is None else f"it is not offered on {endpoint}"
        click.echo(f"'{choice.target}': {why}, so the client gets 404")
        sys.exit(1)
    channels = ", ".join(c.name for c in entry.channels)
    click.echo(f"served by model {entry.id} (channels: {channels}); replies name '{model}'")


def _storage_commands() -> None:
    from switchboard.capture.cli import requests
    from switchboard.tenancy.cli import db, keys, usage
    from switchboard.tenancy.team_cli import teams

    main.add_command(requests)
    main.add_command(keys)
    main.add_command(teams)
    main.add_command(usage)
    main.add_command(db)


_storage_commands()
