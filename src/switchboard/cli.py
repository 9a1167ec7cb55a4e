"""The `switchboard` command: serve, check, keys, usage, db."""

from __future__ import annotations

from pathlib import Path

import click

from switchboard.config import load_for_cli


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
        f"{len(config.keys)} keys)"
    )


def _storage_commands() -> None:
    from switchboard.capture.cli import requests
    from switchboard.tenancy.cli import db, keys, usage

    main.add_command(requests)
    main.add_command(keys)
    main.add_command(usage)
    main.add_command(db)


_storage_commands()
