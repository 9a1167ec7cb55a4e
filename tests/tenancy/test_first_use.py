"""What a new user meets: the CLI and the gateway find the same database from any directory
without a config, every storage command says which database it used, `keys list` and `usage`
print aligned tables with key names, refusals name the header the key came in, and `check`
lists every problem of a config file."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard import config as settings
from tests.support.envelope import assert_envelope
from tests.support.gateway import GatewayProcess

from .gateway import Gateway, cli, write_config

pytestmark = pytest.mark.e2e

BODY = {"model": "demo", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}


def switchboard(*args: str, cwd: Path, home: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_HOME"}
    if home is not None:
        env["SWITCHBOARD_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        check=False,
    )


def test_the_cli_sees_the_key_the_gateway_made_from_another_directory(tmp_path: Path) -> None:
    home, gateway_dir, elsewhere = (tmp_path / d for d in ("home", "gw", "elsewhere"))
    for d in (gateway_dir, elsewhere):
        d.mkdir()
    env = {"SWITCHBOARD_HOME": str(home), "SWITCHBOARD_MASTER_KEY": ""}
    with GatewayProcess(None, env=env, cwd=gateway_dir) as gw:
        # The generated master key is kept in the data directory, beside the database.
        master = (home / "switchboard.master_key").read_text().strip()
        made = httpx.post(
            gw.url + "/admin/keys", json={"name": "from-gateway"}, headers={"x-api-key": master}
        )
        assert made.status_code == 201, made.text
        assert f"using the database SQLite {home / 'switchboard.db'}" in gw.output()
    assert list(gateway_dir.iterdir()) == []  # nothing lands in the working directory

    listed = switchboard("keys", "list", "--json", cwd=elsewhere, home=home)
    assert listed.returncode == 0, listed.stderr
    assert [k["name"] for k in json.loads(listed.stdout)] == ["from-gateway"]  # stdout is JSON
    assert f"using the database SQLite {home / 'switchboard.db'}" in listed.stderr


def test_the_default_data_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data_dir = settings.data_dir  # type: ignore[attr-defined,unused-ignore]  # new in issue 12
    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "sb"))
    assert data_dir() == tmp_path / "sb"
    assert settings.Config().database == f"sqlite:///{tmp_path / 'sb' / 'switchboard.db'}"
    monkeypatch.delenv("SWITCHBOARD_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "switchboard"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert data_dir() == tmp_path / "user" / ".local" / "share" / "switchboard"


def columns(header: str, line: str, names: list[str]) -> list[str]:
    """The cells of `line` under each of `names` in `header`: a table is aligned when each
    cell starts where its header does (and ends where the next header starts)."""
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    cells = []
    for name in names:
        at = header.index(name)
        later = [s for s in starts if s > at]
        cells.append(line[at : later[0] if later else None].strip())
    return cells


def test_keys_list_and_usage_print_tables_with_key_names(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", f"sqlite:///{tmp_path / 'sb.db'}")
    empty = cli(config, "keys", "list")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("no keys yet")
    assert cli(config, "usage").stdout.startswith("no usage recorded yet")
    assert "using the database SQLite" in empty.stderr

    made: dict[str, Any] = {}
    for name, extra in (("alpha app", ["--rpm", "5"]), ("b", [])):
        done = cli(config, "keys", "create", "--name", name, *extra, "--json")
        made[name] = json.loads(done.stdout)
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        for name in made:
            reply = httpx.post(
                gateway.url + "/v1/messages", json=BODY, headers={"x-api-key": made[name]["key"]}
            )
            assert reply.status_code == 200, reply.text
    finally:
        gateway.stop()  # flushes the ledger

    lines = cli(config, "keys", "list").stdout.splitlines()
    header = lines[0]
    assert header.split() == ["ID", "NAME", "PREFIX", "STATUS", "CREATED", "LIMITS"]
    rows = [columns(header, line, ["ID", "NAME", "STATUS"]) for line in lines[2:]]
    assert rows == [
        [made["alpha app"]["id"], "alpha app", "active"],
        [made["b"]["id"], "b", "active"],
    ]
    assert columns(header, lines[2], ["LIMITS"]) == ["rpm=5"]

    lines = cli(config, "usage").stdout.splitlines()
    header = lines[0]
    assert header.split()[:5] == ["AT", "KEY", "NAME", "MODEL", "STATUS"]
    rows = [columns(header, line, ["KEY", "NAME", "MODEL", "STATUS"]) for line in lines[2:]]
    assert sorted(rows) == sorted([[made[n]["id"], n, "demo", "200"] for n in ("alpha app", "b")])

    by_key = cli(config, "usage", "--group-by", "key", "--since", "24h").stdout.splitlines()
    assert by_key[0].split()[:3] == ["KEY", "NAME", "REQUESTS"]
    named = {tuple(columns(by_key[0], line, ["NAME", "REQUESTS"])) for line in by_key[2:]}
    assert named == {("alpha app", "1"), ("b", "1")}

    assert cli(config, "usage", "--since", "7d", "--model", "nope").stdout.startswith(
        "no usage recorded matching"
    )
    as_csv = cli(config, "usage", "--csv")
    assert as_csv.stdout.splitlines()[0].startswith("at,")  # stdout stays parseable
    assert "24h" in cli(config, "usage", "--help").stdout
    assert "7d" in cli(config, "usage", "--help").stdout


def test_refusals_name_the_header_the_key_came_in(tmp_path: Path) -> None:
    """Also: a flood of random well-formed keys gets 401 in the envelope, every one."""
    config = write_config(tmp_path / "c.yaml", f"sqlite:///{tmp_path / 'sb.db'}")
    gateway = Gateway(config, tmp_path / "gw.log")
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:

            def send(headers: dict[str, str]) -> httpx.Response:
                return client.post("/v1/messages", json=BODY, headers=headers)

            for _ in range(300):
                stranger = "sk-sb-" + secrets.token_urlsafe(32)
                assert_envelope(
                    send({"x-api-key": stranger}),
                    401,
                    "authentication_error",
                    "invalid API key in the x-api-key header",
                )
            assert_envelope(
                send({"authorization": "Bearer sk-sb-wrong"}),
                401,
                "authentication_error",
                "invalid API key in the Authorization header",
            )
            assert_envelope(
                send({"x-api-key": "sk-a", "authorization": "Bearer sk-b"}),
                401,
                "authentication_error",
                "invalid API key in the x-api-key and Authorization headers",
            )
            assert_envelope(
                send({"authorization": "Basic dXNlcjpwYXNz"}),
                401,
                "authentication_error",
                "Authorization: expected 'Bearer <key>'",
            )
    finally:
        gateway.stop()


def test_check_reports_every_problem_in_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """
redis: http://not-redis
providers:
  - {name: a, kind: grpc}
  - {name: b, kind: openai, base_url: nope, colour: red}
models:
  - {id: m, channels: [{provider: zz, model: x}]}
  - {id: n, channels: [{provider: b}]}
"""
    )
    done = switchboard("check", "--config", str(bad), cwd=tmp_path, home=tmp_path)
    assert done.returncode == 2
    problems = [line.split(f"{bad}: ", 1)[1] for line in done.stderr.splitlines()]
    assert problems == [
        "providers[0].kind: invalid value 'grpc' "
        "(expected one of: openai, anthropic, gemini, vertex, scripted, bedrock)",
        "providers[1].colour: is not a known field (a typo?)",
        "models[1].channels[0].model: is required",
    ]
    bad.write_text(bad.read_text().replace("kind: grpc", "kind: scripted"))
    bad.write_text(
        bad.read_text()
        .replace(", colour: red", "")
        .replace("{provider: b}", "{provider: b, model: q}")
    )
    done = switchboard("check", "--config", str(bad), cwd=tmp_path, home=tmp_path)
    problems = [line.split(f"{bad}: ", 1)[1] for line in done.stderr.splitlines()]
    assert problems == [
        "redis: must be a redis://HOST:PORT/DB URL",
        "providers[1].base_url: must be an http:// or https:// URL",
        "models[0].channels[0].provider: no provider named 'zz' (known: a, b)",
    ]
