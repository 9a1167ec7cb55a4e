"""`switchboard teams ...`: keys that share limits. The options are those of `keys` (one per
field of limit_kinds.TEAM_FIELDS), and a team is named by its id or its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from switchboard.tenancy.admin import TeamAdmin
from switchboard.tenancy.cli import (
    Opened,
    _given,
    _print_json,
    _run,
    _table,
    changes,
    clear_option,
    config_option,
    json_option,
    limit_options,
    limits_text,
)
from switchboard.tenancy.keys import Team
from switchboard.tenancy.limit_kinds import TEAM_FIELDS


def _teams(s: Opened) -> TeamAdmin:
    assert s.admin.teams is not None  # the CLI's admin always has its database's teams
    return s.admin.teams


def _describe(info: dict[str, Any], team: Team) -> str:
    head = f"{team.id}  {team.name}  keys={info.get('keys', 0)}"
    limits = limits_text(info, team.limits, TEAM_FIELDS)
    return f"{head}  {limits}" if limits else head


def _show(info: dict[str, Any], team: Team, as_json: bool) -> None:
    if as_json:
        _print_json(info)
    else:
        click.echo(_describe(info, team))


@click.group()
def teams() -> None:
    """Manage teams: keys that share limits (a request must fit its key's and its team's)."""


@teams.command("create")
@config_option
@click.option("--name", required=True, help="The team's name (unique).")
@limit_options(TEAM_FIELDS)
@json_option
def create(config_file: Path | None, name: str, as_json: bool, **limits: Any) -> None:
    """Create a team; add keys to it with `keys create --team` or `keys update --team`."""
    fields = {"name": name, **_given(limits)}
    team = _run(config_file, lambda s: _teams(s).create(fields))
    _show(team.public(0), team, as_json)


@teams.command("list")
@config_option
@json_option
def list_teams(config_file: Path | None, as_json: bool) -> None:
    """List every team, with its number of keys and its limits."""
    found = _run(config_file, lambda s: _teams(s).list())
    if as_json:
        _print_json([t.public(n) for t, n in found])
        return
    if not found:
        click.echo("no teams yet: create one with `switchboard teams create --name NAME`")
        return
    _table(
        ("ID", "NAME", "KEYS", "LIMITS"),
        (
            (t.id, t.name, n, limits_text(t.public(), t.limits, TEAM_FIELDS) or "-")
            for t, n in found
        ),
        {"KEYS"},
    )


@teams.command("show")
@config_option
@click.argument("team")
@json_option
def show(config_file: Path | None, team: str, as_json: bool) -> None:
    """Show one team (by id or name)."""

    async def read(s: Opened) -> tuple[dict[str, Any], Team]:
        return await _teams(s).show(team), await _teams(s).get(team)

    info, found = _run(config_file, read)
    _show(info, found, as_json)


@teams.command("update")
@config_option
@click.argument("team")
@click.option("--name", help="A new name.")
@limit_options(TEAM_FIELDS)
@clear_option(TEAM_FIELDS)
@json_option
def update(
    config_file: Path | None,
    team: str,
    name: str | None,
    cleared: tuple[str, ...],
    as_json: bool,
    **limits: Any,
) -> None:
    """Change a team's name or limits; what is not given stays. Running gateways apply the
    change within a second."""
    fields = changes(_given(limits), cleared, name)

    async def change(s: Opened) -> tuple[dict[str, Any], Team]:
        info = await _teams(s).update(team, fields)
        return info, await _teams(s).get(str(info["id"]))

    info, found = _run(config_file, change)
    _show(info, found, as_json)


@teams.command("delete")
@config_option
@click.argument("team")
@click.option("--force", is_flag=True, help="Delete it even if it has keys: they leave the team.")
@json_option
def delete(config_file: Path | None, team: str, force: bool, as_json: bool) -> None:
    """Delete a team. Refused while it has keys, unless --force (its keys then keep working
    with their own limits only)."""
    info = _run(config_file, lambda s: _teams(s).delete(team, force))
    if as_json:
        _print_json(info)
    else:
        click.echo(
            f"deleted team {info['id']} ({info['name']}); keys detached: {info['detached_keys']}"
        )
