"""Gemini and Vertex providers in the config and in the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.catalog import embedded_default
from switchboard.config import ConfigError, parse_config


def test_the_environment_turns_gemini_and_vertex_on(tmp_path: Path) -> None:
    sa = tmp_path / "sa.json"
    sa.write_text("{}")
    config = embedded_default(
        {
            "GEMINI_API_KEY": "g",
            "GOOGLE_APPLICATION_CREDENTIALS": str(sa),
            "GOOGLE_CLOUD_PROJECT": "p1",
        }
    )
    providers = {p.name: p for p in config.providers}
    assert providers["gemini"].api_key == "g"
    vertex = providers["vertex"]
    assert (vertex.credentials_file, vertex.project, vertex.location) == (str(sa), "p1", "global")
    assert vertex.api_key is None
    ids = {m.id for m in config.models}
    assert {"gemini-2.5-flash", "gemini-3-pro-preview", "vertex/claude-sonnet-4-5"} <= ids


def test_vertex_needs_a_project_as_well_as_credentials(tmp_path: Path) -> None:
    sa = tmp_path / "sa.json"
    sa.write_text("{}")
    config = embedded_default({"GOOGLE_APPLICATION_CREDENTIALS": str(sa)})
    assert "vertex" not in {p.name for p in config.providers}


def test_vertex_provider_fields_are_validated() -> None:
    data = {
        "providers": [
            {
                "name": "vx",
                "kind": "vertex",
                "location": "us-east5/../x",
                "credentials_file": "/nonexistent/sa.json",
            }
        ],
        "models": [],
    }
    with pytest.raises(ConfigError) as err:
        parse_config(data, "test", env={})
    text = str(err.value)
    assert "providers[0].project" in text
    assert "providers[0].location" in text
    assert "providers[0].credentials_file" in text


def test_unknown_kinds_name_the_google_ones() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"providers": [{"name": "x", "kind": "gemni"}]}, "test", env={})
    assert "gemini" in str(err.value)
    assert "vertex" in str(err.value)
