"""Config models the built-in catalogue knows (by id, or by a channel's upstream model) take
its prices and limits where they set none, and `switchboard check` warns about every model
left without a price (keys with a budget are refused on those)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from switchboard.config import Pricing, load_config

CONFIG = """
providers:
  - {name: own, kind: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  - id: claude-haiku-4-5          # a built-in id
    channels: [{provider: own, model: haiku}]
  - id: my-kimi                   # a built-in entry's upstream model
    channels: [{provider: own, model: kimi-k2.6}]
  - id: dated-haiku               # a built-in entry's exact alias, as upstream model
    channels: [{provider: own, model: claude-haiku-4-5-20251001}]
  - id: gpt-5.5                   # its own price wins; its limits are inherited
    pricing: {input: 1.0, output: 2.0}
    channels: [{provider: own, model: gpt-5.5}]
  - id: local/qwen                # unknown: no price
    channels: [{provider: own, model: Qwen/Qwen3-8B}]
  - id: local/free                # unknown, and priced at zero on purpose
    pricing: {}
    channels: [{provider: own, model: free}]
  - id: moonshotai/kimi-k3        # known, but the catalogue has no price for it either
    channels: [{provider: own, model: k3}]
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "switchboard.yaml"
    path.write_text(CONFIG)
    return path


def test_config_models_inherit_prices_and_limits_from_the_builtin_catalogue(
    tmp_path: Path,
) -> None:
    models = {m.id: m for m in load_config(write(tmp_path), env={}).models}
    haiku = models["claude-haiku-4-5"]
    assert haiku.pricing == Pricing(input=1.0, output=5.0, cache_read=0.1, cache_write=1.25)
    assert (haiku.context_window, haiku.max_output_tokens) == (200_000, 64_000)
    assert models["dated-haiku"].pricing == haiku.pricing
    assert models["my-kimi"].pricing == Pricing(input=0.95, output=4.0, cache_read=0.16)
    assert models["my-kimi"].context_window == 262_144
    gpt = models["gpt-5.5"]
    assert gpt.pricing == Pricing(input=1.0, output=2.0)
    assert (gpt.context_window, gpt.max_output_tokens) == (1_000_000, 128_000)
    assert models["local/qwen"].pricing is None
    assert models["local/qwen"].max_output_tokens is None
    assert models["local/free"].pricing == Pricing()
    assert models["moonshotai/kimi-k3"].pricing is None


def test_check_warns_about_each_unpriced_model_and_still_passes(tmp_path: Path) -> None:
    path = write(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "switchboard", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ok (1 providers, 7 models" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert warnings == [
        f"{path}: warning: models[{i}] '{name}' has no price (in the config or the built-in "
        "catalogue): keys with a budget are refused on it; set "
        f"models[{i}].pricing, or `pricing: {{}}` for a free model"
        for i, name in ((4, "local/qwen"), (6, "moonshotai/kimi-k3"))
    ]
