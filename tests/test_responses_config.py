"""The Responses surface's config: `responses: {store, retention_days}` and a provider's
`responses_api`, accepted by `switchboard check`, refused with the field named when wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.config import ConfigError, parse_config

BASE = {
    "providers": [
        {"name": "o", "kind": "openai", "base_url": "http://127.0.0.1:1/v1", "responses_api": True}
    ],
    "models": [{"id": "m", "channels": [{"provider": "o", "model": "x"}]}],
}


def test_defaults_and_values() -> None:
    assert parse_config(BASE, "t", env={}).responses.store is False
    config = parse_config({**BASE, "responses": {"store": True, "retention_days": 7}}, "t", env={})
    assert config.responses.store is True
    assert config.responses.retention_days == 7
    assert config.providers[0].responses_api is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"responses": {"store": True, "retention_days": 0}}, "responses.retention_days"),
        ({"responses": {"keep": True}}, "responses.keep"),
        (
            {
                "providers": [
                    {
                        "name": "o",
                        "kind": "anthropic",
                        "base_url": "http://h",
                        "responses_api": True,
                    }
                ]
            },
            "providers[0].responses_api",
        ),
    ],
)
def test_refusals_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({**BASE, **change}, "t", env={})
    assert field in str(caught.value)


def test_switchboard_check_accepts_it(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n"
        "  - {name: o, kind: openai, base_url: 'http://127.0.0.1:1/v1', responses_api: true}\n"
        "models:\n  - {id: m, channels: [{provider: o, model: x}]}\n"
        "responses: {store: true, retention_days: 14}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
