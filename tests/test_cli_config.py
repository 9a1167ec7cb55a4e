"""The commands load their config through config.load_for_cli: the gateway's commands (cli.py)
and the key/usage/db commands (tenancy/cli.py) alike, so neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import switchboard
from switchboard.config import Config, load_for_cli

SRC = Path(switchboard.__file__).parent


def imported(module: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_key_commands_do_not_import_the_gateway_commands() -> None:
    assert "switchboard.cli" not in imported(SRC / "tenancy" / "cli.py")
    assert "switchboard.config" in imported(SRC / "tenancy" / "cli.py")


def test_a_bad_config_prints_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers: 3\nmodels: 4\n")
    with pytest.raises(SystemExit) as exit_:
        load_for_cli(bad)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert f"switchboard: config error: {bad}: providers: expected `array`, got `int`" in err
    assert len(err) == 2  # both fields, not only the first


def test_without_a_file_the_embedded_defaults_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = load_for_cli(None)
    assert isinstance(config, Config)
    assert "switchboard/demo" in {m.id for m in config.models}
