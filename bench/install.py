"""Installs what the bench needs into a cache directory, once; later runs are offline.

    <cache>/venv         the bench venv: Switchboard (editable, from this checkout) and
                         bench/requirements.txt; runs the harness, Switchboard and the floor
    <cache>/litellm      LiteLLM proxy (`litellm[proxy]`) in its own venv
    <cache>/ccr          claude-code-router from npm

Each part is marked done by a stamp file naming what was installed, so a changed pin reinstalls
that part only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LITELLM_SPEC = "litellm[proxy]==1.106.2"
CCR_SPEC = "@musistudio/claude-code-router@2.0.0"
INSTALL_TIMEOUT = 1800  # seconds, per step


def cache_dir() -> Path:
    env = os.environ.get("SWITCHBOARD_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "switchboard-bench"


def _run(cmd: list[str], **kw: object) -> None:
    print("bench: $", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, timeout=INSTALL_TIMEOUT, **kw)  # type: ignore[call-overload]


def _stamped(stamp: Path, spec: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == spec


def _venv(path: Path) -> Path:
    if not (path / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(path)])
    return path / "bin" / "python"


def bench_venv(cache: Path) -> Path:
    """The bench venv's python; (re)installs when the requirements or pyproject changed."""
    venv = cache / "venv"
    spec = (REPO / "bench" / "requirements.txt").read_text() + (REPO / "pyproject.toml").read_text()
    spec = f"{REPO}\n{hash_text(spec)}"
    python = _venv(venv)
    stamp = venv / ".bench-stamp"
    if not _stamped(stamp, spec):
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-e",
                str(REPO),
                "-r",
                str(REPO / "bench" / "requirements.txt"),
            ]
        )
        stamp.write_text(spec)
    return python


def litellm(cache: Path) -> Path:
    """The `litellm` executable."""
    venv = cache / "litellm"
    python = _venv(venv)
    stamp = venv / ".bench-stamp"
    if not _stamped(stamp, LITELLM_SPEC):
        _run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", LITELLM_SPEC]
        )
        stamp.write_text(LITELLM_SPEC)
    return venv / "bin" / "litellm"


def ccr(cache: Path) -> Path:
    """The `ccr` executable."""
    prefix = cache / "ccr"
    stamp = prefix / ".bench-stamp"
    if not _stamped(stamp, CCR_SPEC):
        prefix.mkdir(parents=True, exist_ok=True)
        _run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), CCR_SPEC])
        stamp.write_text(CCR_SPEC)
    return prefix / "node_modules" / ".bin" / "ccr"


def hash_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main() -> None:
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    parts = sys.argv[1:] or ["venv", "litellm", "ccr"]
    for part in parts:
        print({"venv": bench_venv, "litellm": litellm, "ccr": ccr}[part](cache))


if __name__ == "__main__":
    main()
