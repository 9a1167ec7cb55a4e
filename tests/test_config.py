"""The config: interpolation, validation errors that name file and field, and the CLI check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.catalog import DEMO_MODEL, Catalog, embedded_default
from switchboard.config import ConfigError, load_config, parse_config

GOOD = """
master_key: ${SWITCHBOARD_MASTER_KEY}
database: sqlite:///./switchboard.db
providers:
  - name: moonshot
    kind: openai
    base_url: https://api.moonshot.ai/v1
    api_key: ${MOONSHOT_API_KEY}
  - name: claude
    kind: anthropic
    base_url: https://api.anthropic.com
    api_key: ${ANTHROPIC_API_KEY:-unset}
keys:
  - name: ci
    key: ${CI_CLIENT_KEY}
models:
  - id: moonshotai/kimi-k2-instruct
    endpoints: [anthropic, openai]
    aliases: ["claude-*", kimi]
    channels:
      - provider: moonshot
        model: kimi-k2-0905-preview
"""

ENV = {"SWITCHBOARD_MASTER_KEY": "mk", "MOONSHOT_API_KEY": "ms", "CI_CLIENT_KEY": "ck"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchboard.yaml"
    path.write_text(text)
    return path


def test_the_documented_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env=ENV)
    assert config.master_key == "mk"
    assert config.providers[0].api_key == "ms"
    assert config.providers[1].api_key == "unset"
    assert config.keys[0].key == "ck"
    catalog = Catalog(config)
    entry = catalog.resolve("claude-opus-5")
    assert entry is not None
    assert entry.id == "moonshotai/kimi-k2-instruct"
    assert catalog.resolve("kimi") is entry
    assert catalog.resolve("gpt-4") is None


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (("kind: openai", "kind: grpc"), "providers[0].kind", "invalid value 'grpc'"),
        (
            ("    api_key: ${MOONSHOT_API_KEY}", "    api_key: ${NOPE_KEY}"),
            "providers[0].api_key",
            "environment variable NOPE_KEY is not set",
        ),
        (
            ("      - provider: moonshot", "      - provider: moonshoot"),
            "models[0].channels[0].provider",
            "no provider named 'moonshoot'",
        ),
        (
            ("base_url: https://api.moonshot.ai/v1", "base_url: api.moonshot.ai"),
            "providers[0].base_url",
            "must be an http",
        ),
        (("database:", "databse:"), "databse", "is not a known field"),
        (
            ("        model: kimi-k2-0905-preview\n", ""),
            "models[0].channels[0].model",
            "is required",
        ),
    ],
)
def test_errors_name_file_and_field(
    tmp_path: Path, edit: tuple[str, str], field: str, problem: str
) -> None:
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=ENV)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(path) in str(caught.value)


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(write(tmp_path, "providers:\n  - name: [unclosed\n"), env=ENV)


def test_cli_check_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("kind: openai", "kind: grpc"))
    env = {"PATH": "/usr/bin:/bin", **ENV}
    run = [sys.executable, "-m", "switchboard", "check", "--config"]
    result = subprocess.run([*run, str(bad)], capture_output=True, text=True, env=env, check=False)
    assert result.returncode != 0
    assert "providers[0].kind" in result.stderr
    assert str(bad) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = subprocess.run([*run, str(good)], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_embedded_default_registers_providers_from_the_environment() -> None:
    bare = embedded_default({})
    assert [m.id for m in bare.models] == [DEMO_MODEL]
    with_keys = embedded_default({"DEEPSEEK_API_KEY": "d", "MOONSHOT_API_KEY": "m"})
    ids = {m.id for m in with_keys.models}
    assert {"deepseek/deepseek-flash", "moonshotai/kimi-k2.6", DEMO_MODEL} <= ids
    assert {p.name for p in with_keys.providers} == {"deepseek", "moonshot", "demo"}
    assert not any(m.id.startswith("claude") for m in with_keys.models)


def test_the_example_config_in_the_repository_loads() -> None:
    example = Path(__file__).parent.parent / "switchboard.example.yaml"
    config = load_config(example, env={"SWITCHBOARD_MASTER_KEY": "k", "MOONSHOT_API_KEY": "m"})
    assert Catalog(config).resolve("claude-haiku-4-5") is not None


def test_embedded_default_turns_bedrock_on_with_a_region_and_aws_credentials() -> None:
    assert "bedrock" not in {
        p.name for p in embedded_default({"AWS_REGION": "us-west-2"}).providers
    }
    config = embedded_default({"AWS_REGION": "us-west-2", "AWS_PROFILE": "work"})
    bedrock = next(p for p in config.providers if p.name == "bedrock")
    assert bedrock.kind == "bedrock"
    assert bedrock.region == "us-west-2"
    assert bedrock.aws_access_key_id is None  # the AWS chain signs
    ids = {m.id for m in config.models}
    assert {"bedrock/claude-sonnet-4-5", "bedrock/llama-3.3-70b-instruct"} <= ids


def test_a_bedrock_provider_needs_a_region_and_whole_keys() -> None:
    base = {"name": "b", "kind": "bedrock"}
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "providers": [{**base, "aws_access_key_id": "AKID", "api_key": "x"}],
                "models": [{"id": "m", "channels": [{"provider": "b", "model": "x"}]}],
            },
            "test.yaml",
            env={},
        )
    text = str(caught.value)
    assert "providers[0].region" in text
    assert "providers[0].aws_secret_access_key" in text
    assert "providers[0].api_key" in text
    ok = parse_config(
        {
            "providers": [
                {
                    **base,
                    "region": "eu-west-1",
                    "aws_secret_access_key": "${S}",
                    "aws_access_key_id": "${K}",
                }
            ],
            "models": [{"id": "m", "channels": [{"provider": "b", "model": "x"}]}],
        },
        "test.yaml",
        env={"S": "secret", "K": "AKID"},
    )
    assert ok.providers[0].aws_secret_access_key == "secret"
    assert ok.providers[0].base_url == ""


def test_telemetry_is_off_by_default_and_its_fields_are_checked() -> None:
    assert not parse_config({}, "t.yaml").telemetry.enabled
    on = parse_config({"telemetry": {"otlp_endpoint": "http://127.0.0.1:4318/v1/traces"}}, "t")
    assert on.telemetry.enabled
    assert on.telemetry.sample_ratio == 1.0
    bad = {"telemetry": {"otlp_endpoint": "collector:4318", "sample_ratio": 1.5}}
    with pytest.raises(ConfigError) as err:
        parse_config(bad, "t.yaml")
    assert "telemetry.sample_ratio: must be in [0, 1]" in str(err.value)
    assert "telemetry.otlp_endpoint: must be an http:// or https:// URL" in str(err.value)


def test_the_collector_credential_is_a_secret_the_redactor_masks() -> None:
    from switchboard.redact import Redactor

    config = parse_config(
        {
            "telemetry": {
                "otlp_endpoint": "https://collector.example/v1/traces",
                "headers": {"authorization": "Bearer otlp-token-12345"},
            }
        },
        "t.yaml",
    )
    masked = Redactor.of(config, "sk-master-key-000000").text("sent otlp-token-12345 upstream")
    assert "otlp-token-12345" not in masked
