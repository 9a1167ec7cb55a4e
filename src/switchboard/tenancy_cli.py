"""`switchboard keys ...`, `switchboard usage`, `switchboard db upgrade`: the storage commands.
Each takes `--config FILE` like `serve` and works on that config's database."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from switchboard.errors import GatewayError
from switchboard.key_admin import FIELDS, KeyAdmin
from switchboard.keys import ApiKey
from switchboard.storage import GROUPS, Storage

T = TypeVar("T")

config_option = click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="YAML config file."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _run(config_file: Path | None, work: Callable[[Storage], Awaitable[T]]) -> T:
    from switchboard.cli import _load

    config = _load(config_file)

    async def main() -> T:
        storage = Storage(config.database)
        try:
            await storage.upgrade()
            return await work(storage)
        finally:
            await storage.close()

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        click.echo(f"switchboard: {exc.message}", err=True)
        sys.exit(1)


def _print_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _describe(key: ApiKey) -> str:
    info = key.public()
    parts = [f"{key.id}  {key.name}  {info['prefix']}...  {info['status']}"]
    lim = key.limits
    if lim.models is not None:
        parts.append(f"models={','.join(lim.models)}")
    for field in ("rpm", "tpm", "max_concurrent", "expires_at"):
        if info[field] is not None:
            parts.append(f"{field}={info[field]}")
    if info["budget_usd"] is not None:
        parts.append(f"budget_usd={info['budget_usd']}/{lim.budget_period}")
    return "  ".join(parts)


@click.group()
def keys() -> None:
    """Manage client API keys kept in the database."""


def limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """The limits a key may carry, as `keys create` and `keys update` both take them."""
    options = [
        click.option("--models", help="Comma-separated models the key may use (default: all)."),
        click.option("--rpm", type=int, help="Requests per minute."),
        click.option("--tpm", type=int, help="Tokens per minute (input + output)."),
        click.option("--max-concurrent", type=int, help="Requests in flight at once."),
        click.option("--budget-usd", type=float, help="Spend limit in USD per budget period."),
        click.option(
            "--budget-period",
            type=click.Choice(["day", "month", "total"]),
            help="The budget's period (default: month).",
        ),
        click.option(
            "--expires", "expires_at", help="ISO 8601 time after which the key stops working."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _given(limits: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in limits.items() if v is not None}


@keys.command("create")
@config_option
@click.option("--name", required=True, help="Who or what the key is for.")
@limit_options
@json_option
def create(config_file: Path | None, name: str, as_json: bool, **limits: Any) -> None:
    """Create a key and print its secret (shown only this once)."""
    fields = {"name": name, **_given(limits)}
    key, secret = _run(config_file, lambda s: KeyAdmin(s.keys).create(fields))
    if as_json:
        _print_json({**key.public(), "key": secret})
        return
    click.echo(_describe(key))
    click.echo(f"secret (shown only now): {secret}")


@keys.command("update")
@config_option
@click.argument("key_id")
@click.option("--name", help="A new name.")
@limit_options
@click.option(
    "--clear",
    "cleared",
    multiple=True,
    # Every field but the name and the budget's period (which always has one) can be unset.
    type=click.Choice([f for f in FIELDS if f not in ("name", "budget_period")]),
    help="Remove this limit (repeatable).",
)
@json_option
def update(
    config_file: Path | None,
    key_id: str,
    name: str | None,
    cleared: tuple[str, ...],
    as_json: bool,
    **limits: Any,
) -> None:
    """Change a key's name or limits; what is not given stays. The secret is unchanged.
    Running gateways apply the change within their key_cache_seconds."""
    fields = _given(limits)
    both = sorted(set(cleared) & set(fields))
    if both:
        raise click.UsageError(f"--clear {both[0]} and a new value for it: give one")
    fields.update(dict.fromkeys(cleared))
    if name is not None:
        fields["name"] = name
    if not fields:
        raise click.UsageError("nothing to change: give --name, a limit or --clear")
    key = _run(config_file, lambda s: KeyAdmin(s.keys).update(key_id, fields))
    if as_json:
        _print_json(key.public())
    else:
        click.echo(_describe(key))


@keys.command("list")
@config_option
@json_option
def list_keys(config_file: Path | None, as_json: bool) -> None:
    """List every key, revoked ones included."""
    found = _run(config_file, lambda s: KeyAdmin(s.keys).list())
    if as_json:
        _print_json([k.public() for k in found])
        return
    for key in found:
        click.echo(_describe(key))


@keys.command("show")
@config_option
@click.argument("key_id")
@json_option
def show(config_file: Path | None, key_id: str, as_json: bool) -> None:
    """Show one key."""
    key = _run(config_file, lambda s: KeyAdmin(s.keys).get(key_id))
    if as_json:
        _print_json(key.public())
    else:
        click.echo(_describe(key))


@keys.command("revoke")
@config_option
@click.argument("key_id")
@json_option
def revoke(config_file: Path | None, key_id: str, as_json: bool) -> None:
    """Revoke a key. Running gateways stop accepting it within their key_cache_seconds."""
    key = _run(config_file, lambda s: KeyAdmin(s.keys).revoke(key_id))
    if as_json:
        _print_json(key.public())
    else:
        click.echo(_describe(key))


@keys.command("rotate")
@config_option
@click.argument("key_id")
@json_option
def rotate(config_file: Path | None, key_id: str, as_json: bool) -> None:
    """Give a key a new secret; the old one stops working."""
    key, secret = _run(config_file, lambda s: KeyAdmin(s.keys).rotate(key_id))
    if as_json:
        _print_json({**key.public(), "key": secret})
        return
    click.echo(_describe(key))
    click.echo(f"secret (shown only now): {secret}")


@click.command()
@config_option
@click.option("--key", "key_id", help="Only this key id.")
@click.option("--model", help="Only this model.")
@click.option("--since", help="ISO 8601 time, or a span back from now: 30m, 24h, 7d.")
@click.option("--until", help="ISO 8601 time.")
@click.option("--group-by", type=click.Choice(["day", "key", "model"]))
@click.option("--limit", type=int, default=100, show_default=True, help="Rows without --group-by.")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
def usage(
    config_file: Path | None,
    key_id: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    group_by: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Report the usage ledger: one row per request, or totals grouped by day, key or model."""
    from switchboard.api.admin import usage_filter

    params = {"key": key_id, "model": model, "since": since, "until": until}

    async def read(s: Storage) -> list[dict[str, Any]]:
        f = usage_filter({k: v for k, v in params.items() if v})
        if group_by is not None:
            return await s.ledger.report(f, GROUPS[group_by])
        return await s.ledger.rows(f, limit)

    rows = _run(config_file, read)
    if as_json:
        _print_json(rows)
    elif as_csv or rows:
        out = io.StringIO()
        writer = csv.DictWriter(
            out,
            fieldnames=list(rows[0]) if rows else [],
            dialect="excel" if as_csv else "excel-tab",
        )
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)


@click.group()
def db() -> None:
    """The database."""


@db.command()
@config_option
def upgrade(config_file: Path | None) -> None:
    """Apply the migrations not yet applied (the gateway also does at start)."""

    async def up(s: Storage) -> str | None:
        return await s.revision()  # _run has just upgraded

    revision = _run(config_file, up)
    click.echo(f"database at revision {revision}")
