"""`switchboard requests show ID` and `switchboard requests list`: captured requests."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.rule import Rule

from switchboard.config import load_for_cli
from switchboard.storage import Storage
from switchboard.storage.captures import CaptureStore

config_option = click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="YAML config file."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _with_store(config_file: Path | None, work: Any) -> Any:
    config = load_for_cli(config_file)

    async def main() -> Any:
        storage = Storage(config.database)
        click.echo(f"switchboard: using the database {storage.describe()}", err=True)
        try:
            await storage.upgrade()
            return await work(CaptureStore(storage.engine))
        finally:
            await storage.close()

    return asyncio.run(main())


@click.group()
def requests() -> None:
    """Captured requests (`capture:` in the config): what was sent and received."""


@requests.command("list")
@config_option
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
def list_captures(config_file: Path | None, limit: int, as_json: bool) -> None:
    """The newest captured requests."""
    rows = _with_store(config_file, lambda store: store.recent(limit))
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    for r in rows:
        click.echo(f"{r['request_id']}  {r['at']:%Y-%m-%d %H:%M:%S}  {r['status']}  {r['model']}")


@requests.command("show")
@config_option
@click.argument("request_id")
@json_option
def show(config_file: Path | None, request_id: str, as_json: bool) -> None:
    """One captured request: the client's request, each upstream attempt (what was sent and
    what came back), and what the client received."""
    row = _with_store(config_file, lambda store: store.get(request_id[:64]))
    if row is None:
        click.echo(f"switchboard: no captured request {request_id[:64]!r}", err=True)
        sys.exit(1)
    client = orjson.loads(row["client_request"])
    upstream = orjson.loads(row["upstream"])
    if as_json:
        shown = {
            **{k: row[k] for k in ("request_id", "key_id", "model", "status")},
            "at": row["at"].isoformat(),
            "client_request": client,
            "upstream": upstream,
            "client_response": row["client_response"],
        }
        click.echo(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(
        f"request {row['request_id']}  at {row['at']:%Y-%m-%d %H:%M:%S}  key {row['key_id']}  "
        f"model {row['model']}  status {row['status']}",
        markup=False,
    )
    out.print(Rule("the client's request"))
    _headers(out, client["headers"])
    out.print(_pretty(client["body"]), markup=False)
    for i, call in enumerate(upstream, 1):
        out.print(Rule(f"upstream attempt {i}: POST {call['url']}"))
        _headers(out, call["headers"])
        out.print(_pretty(call["request"]), markup=False)
        out.print(Rule(f"upstream attempt {i}: what came back (status {call['status']})"))
        out.print(_pretty(call["response"]), markup=False)
    out.print(Rule("what the client received"))
    out.print(_pretty(row["client_response"]), markup=False)


def _headers(out: Console, headers: dict[str, str]) -> None:
    for name, value in headers.items():
        out.print(f"{name}: {value}", markup=False)
    out.print()


def _pretty(text: str) -> str:
    """JSON indented; anything else (an event stream, a cut body) as it is."""
    try:
        return orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        return text
