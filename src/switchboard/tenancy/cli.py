"""`switchboard keys ...`, `switchboard usage`, `switchboard db upgrade`: the storage commands
(`switchboard teams ...`: team_cli.py). Each takes `--config FILE` like `serve` and works on
that config's database."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from switchboard.config import load_for_cli
from switchboard.errors import GatewayError
from switchboard.storage import GROUPS, Storage
from switchboard.tenancy.admin import KeyAdmin
from switchboard.tenancy.changes import key_changes
from switchboard.tenancy.keys import ApiKey, Limits
from switchboard.tenancy.limit_kinds import BUDGET, BUDGET_PERIOD, KEY_FIELDS, MODELS, KeyField

T = TypeVar("T")

config_option = click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="YAML config file."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@dataclass(frozen=True, slots=True)
class Opened:
    """What a storage command works on: the database, and key changes that running gateways
    hear of within a second (the database carries them, or Redis when the config has one)."""

    storage: Storage
    admin: KeyAdmin


def _run(config_file: Path | None, work: Callable[[Opened], Awaitable[T]]) -> T:
    config = load_for_cli(config_file)

    async def main() -> T:
        storage = Storage(config.database)
        # On stderr: --json and --csv output on stdout stays parseable.
        click.echo(f"switchboard: using the database {storage.describe()}", err=True)
        changes = key_changes(config)
        try:
            await storage.upgrade()
            admin = KeyAdmin(storage.keys, changes=changes, teams=storage.teams)
            return await work(Opened(storage, admin))
        finally:
            await changes.close()
            await storage.close()

    try:
        return asyncio.run(main())
    except GatewayError as exc:
        click.echo(f"switchboard: {exc.message}", err=True)
        sys.exit(1)


def _print_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def limits_text(
    info: dict[str, Any], lim: Limits, fields: tuple[KeyField, ...] = KEY_FIELDS
) -> str:
    """A key's or a team's limits on one line; `info` is its `public()`."""
    parts = []
    if lim.models is not None:
        parts.append(f"models={','.join(lim.models)}")
    for f in fields:  # the budget last, with its period
        if f not in (MODELS, BUDGET, BUDGET_PERIOD) and info[f.field] is not None:
            parts.append(f"{f.field}={info[f.field]}")
    for kind, _ in lim.more:  # a kind only a test knows of (KEY_FIELDS has the others)
        if kind not in KEY_FIELDS:
            parts.append(f"{kind.field}={info[kind.field]}")
    if info[BUDGET.field] is not None:
        parts.append(f"{BUDGET.field}={info[BUDGET.field]}/{lim.budget_period}")
    return "  ".join(parts)


def _limits(key: ApiKey) -> str:
    return limits_text(key.public(), key.limits)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _describe(key: ApiKey) -> str:
    info = key.public()
    head = f"{key.id}  {key.name}  {info['prefix']}...  {info['status']}"
    if key.team is not None:
        head += f"  team={key.team.name}"
    limits = _limits(key)
    return f"{head}  {limits}" if limits else head


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: set[str]) -> None:
    """Aligned columns under a header line. Piped, a row is never wrapped nor cut."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in headers:
        table.add_column(header, justify="right" if header in numeric else "left", no_wrap=True)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    if sys.stdout.isatty():
        Console(highlight=False).print(table)
        return
    out = io.StringIO()
    Console(file=out, width=10_000, highlight=False).print(table)
    click.echo("\n".join(line.rstrip() for line in out.getvalue().splitlines()))


@click.group()
def keys() -> None:
    """Manage client API keys kept in the database."""


def limit_options(
    fields: tuple[KeyField, ...] = KEY_FIELDS,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The limits a key (or a team: TEAM_FIELDS) may carry, as `create` and `update` both take
    them: one option per field described in limit_kinds.py."""

    def add(command: Callable[..., None]) -> Callable[..., None]:
        for f in reversed(fields):
            command = click.option(
                f.option,
                f.field,
                type=click.Choice(f.choices) if f.choices else f.option_type,
                help=f.help,
            )(command)
        return command

    return add


def clear_option(fields: tuple[KeyField, ...], *more: str) -> Callable[..., Any]:
    # Every field but the name and the budget's period (which always has one) can be unset.
    return click.option(
        "--clear",
        "cleared",
        multiple=True,
        type=click.Choice([*more, *(f.field for f in fields if f.clearable)]),
        help="Remove this limit (repeatable).",
    )


def changes(fields: dict[str, Any], cleared: tuple[str, ...], name: str | None) -> dict[str, Any]:
    """What `update` was given: new values, cleared fields (null) and a new name."""
    both = sorted(set(cleared) & set(fields))
    if both:
        raise click.UsageError(f"--clear {both[0]} and a new value for it: give one")
    fields.update(dict.fromkeys(cleared))
    if name is not None:
        fields["name"] = name
    if not fields:
        raise click.UsageError("nothing to change: give --name, a limit or --clear")
    return fields


team_option = click.option("--team", help="The key's team (its name or id).")


def _given(limits: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in limits.items() if v is not None}


@keys.command("create")
@config_option
@click.option("--name", required=True, help="Who or what the key is for.")
@team_option
@limit_options()
@json_option
def create(config_file: Path | None, name: str, as_json: bool, **limits: Any) -> None:
    """Create a key and print its secret (shown only this once)."""
    fields = {"name": name, **_given(limits)}
    key, secret = _run(config_file, lambda s: s.admin.create(fields))
    if as_json:
        _print_json({**key.public(), "key": secret})
        return
    click.echo(_describe(key))
    click.echo(f"secret (shown only now): {secret}")


@keys.command("update")
@config_option
@click.argument("key_id")
@click.option("--name", help="A new name.")
@team_option
@limit_options()
@clear_option(KEY_FIELDS, "team")
@json_option
def update(
    config_file: Path | None,
    key_id: str,
    name: str | None,
    cleared: tuple[str, ...],
    as_json: bool,
    **limits: Any,
) -> None:
    """Change a key's name, team or limits; what is not given stays. The secret is
    unchanged. Running gateways apply the change within a second."""
    fields = changes(_given(limits), cleared, name)
    key = _run(config_file, lambda s: s.admin.update(key_id, fields))
    if as_json:
        _print_json(key.public())
    else:
        click.echo(_describe(key))


@keys.command("list")
@config_option
@json_option
def list_keys(config_file: Path | None, as_json: bool) -> None:
    """List every key, revoked ones included."""
    found = _run(config_file, lambda s: s.admin.list())
    if as_json:
        _print_json([k.public() for k in found])
        return
    now = datetime.now(UTC)
    if not found:
        click.echo("no keys yet: create one with `switchboard keys create --name NAME`")
        return
    _table(
        ("ID", "NAME", "PREFIX", "STATUS", "CREATED", "LIMITS"),
        (
            (k.id, k.name, k.prefix + "...", k.status(now), _when(k.created_at), _limits(k) or "-")
            for k in found
        ),
        set(),
    )


@keys.command("show")
@config_option
@click.argument("key_id")
@json_option
def show(config_file: Path | None, key_id: str, as_json: bool) -> None:
    """Show one key."""
    key = _run(config_file, lambda s: s.admin.get(key_id))
    if as_json:
        _print_json(key.public())
    else:
        click.echo(_describe(key))


@keys.command("revoke")
@config_option
@click.argument("key_id")
@json_option
def revoke(config_file: Path | None, key_id: str, as_json: bool) -> None:
    """Revoke a key. Running gateways stop accepting it within a second."""
    key = _run(config_file, lambda s: s.admin.revoke(key_id))
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
    key, secret = _run(config_file, lambda s: s.admin.rotate(key_id))
    if as_json:
        _print_json({**key.public(), "key": secret})
        return
    click.echo(_describe(key))
    click.echo(f"secret (shown only now): {secret}")


@click.command()
@config_option
@click.option("--key", "key_id", help="Only this key id.")
@click.option("--team", "team", help="Only this team (its name or id).")
@click.option("--model", help="Only this model.")
@click.option(
    "--since",
    help="From this time: ISO 8601 (2025-01-31T12:00:00Z) or a span back from now: 30m, 24h, 7d.",
)
@click.option("--until", help="Before this time: ISO 8601, or a span back from now (30m, 24h, 7d).")
@click.option("--group-by", type=click.Choice(list(GROUPS)), help="Totals per group.")
@click.option("--limit", type=int, default=100, show_default=True, help="Rows without --group-by.")
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
def usage(
    config_file: Path | None,
    key_id: str | None,
    team: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    group_by: str | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Report the usage ledger: one row per request (newest first), or totals grouped by day,
    key, model, session (Claude Code's session id; requests without one: `(none)`) or team."""
    from switchboard.api.admin import usage_filter

    params = {"key": key_id, "team": team, "model": model, "since": since, "until": until}

    async def read(s: Opened) -> tuple[list[dict[str, Any]], dict[str, str]]:
        if team is not None:
            assert s.admin.teams is not None
            params["team"] = (await s.admin.teams.get(team)).id  # a name is taken too
        f = usage_filter({k: v for k, v in params.items() if v})
        if group_by is not None:
            rows = await s.storage.ledger.report(f, GROUPS[group_by])
        else:
            rows = await s.storage.ledger.rows(f, limit)
        names = {k.id: k.name for k in await s.admin.list()} if rows else {}
        if rows and group_by == "team":
            names = {t.id: t.name for t, _ in await s.storage.teams.list()}
        return rows, names

    rows, names = _run(config_file, read)
    if as_json:
        _print_json(rows)
    elif not rows:
        filtered = " matching these filters" if any(params.values()) else " yet"
        click.echo(f"no usage recorded{filtered}", err=as_csv)
    elif as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    else:
        _usage_table(rows, group_by, names)


# (header, field) of the usage table's counting columns, in both of its forms.
_COUNTS = (
    ("IN", "input_tokens"),
    ("OUT", "output_tokens"),
    ("CACHE READ", "cache_read_tokens"),
    ("CACHE WRITE", "cache_write_tokens"),
    ("COST USD", "cost_usd"),
    ("SEARCHES", "web_search_requests"),
    ("SEARCH USD", "web_search_usd"),  # part of COST USD
)
_MONEY = {"cost_usd", "web_search_usd"}


def _key_name(key_id: str, names: dict[str, str]) -> str:
    """A database key's name; the config's keys carry theirs in their id."""
    if key_id in names:
        return names[key_id]
    return key_id.removeprefix("config:") if key_id != "master" else "(master key)"


def _team_name(team_id: str | None, names: dict[str, str]) -> str:
    if team_id is None:
        return "(no team)"
    return names.get(team_id, "(deleted)")


def _usage_table(rows: list[dict[str, Any]], group_by: str | None, names: dict[str, str]) -> None:
    counts = [header for header, _ in _COUNTS]
    numeric = {"REQUESTS", "ERRORS", "STATUS", "MS", *counts}

    def money(value: float) -> str:
        return f"{value:.6f}"

    def numbers(row: dict[str, Any]) -> list[object]:
        return [money(row[f]) if f in _MONEY else row[f] for _, f in _COUNTS]

    if group_by is None:
        _table(
            ("AT", "KEY", "NAME", "MODEL", "STATUS", *counts, "MS"),
            (
                [
                    r["at"],
                    r["key_id"],
                    _key_name(r["key_id"], names),
                    r["model"],
                    r["status"],
                    *numbers(r),
                    round(r["latency_ms"]),
                ]
                for r in rows
            ),
            numeric,
        )
        return
    label = group_by.upper()
    if group_by in ("key", "team"):
        name = _key_name if group_by == "key" else _team_name
        _table(
            (label, "NAME", "REQUESTS", *counts, "ERRORS"),
            (
                [r[group_by], name(r[group_by], names), r["requests"], *numbers(r), r["errors"]]
                for r in rows
            ),
            numeric,
        )
        return
    _table(
        (label, "REQUESTS", *counts, "ERRORS"),
        ([r[group_by], r["requests"], *numbers(r), r["errors"]] for r in rows),
        numeric,
    )


@click.group()
def db() -> None:
    """The database."""


@db.command()
@config_option
def upgrade(config_file: Path | None) -> None:
    """Apply the migrations not yet applied (the gateway also does at start)."""

    async def up(s: Opened) -> str | None:
        return await s.storage.revision()  # _run has just upgraded

    revision = _run(config_file, up)
    click.echo(f"database at revision {revision}")
