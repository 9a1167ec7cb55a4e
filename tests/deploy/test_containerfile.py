"""The Containerfile passes hadolint and has the shape the deployment relies on: a builder
stage and a runtime stage from a base image given as a build argument, RUN steps that are
deploy/build-steps.sh (what test_image_root.py replays), a non-root user, a health check on
/health, and `switchboard serve` on every interface with the config from a mounted file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.containerfile import parse

ROOT = Path(__file__).parents[2]
CONTAINERFILE = ROOT / "Containerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_hadolint_passes() -> None:
    done = hadolint(CONTAINERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_root_user(tmp_path: Path) -> None:
    # The check above can fail: the same file ending as root is refused (DL3002).
    bad = tmp_path / "Containerfile"
    bad.write_text(CONTAINERFILE.read_text() + "USER root\n")
    done = hadolint(bad)
    assert done.returncode != 0
    assert "DL3002" in done.stdout


def test_two_stages_from_the_base_image_argument() -> None:
    parsed = parse(CONTAINERFILE)
    assert parsed.args["BASE_IMAGE"] == "python:3.11-slim-bookworm"
    builder, runtime = parsed.stages
    assert builder.name == "builder"
    assert builder.base == runtime.base == parsed.args["BASE_IMAGE"]
    # Only the venv crosses from the builder: no compiler, source tree or pip cache.
    crossing = [i.args for i in runtime.all("COPY") if i.args.startswith("--from")]
    assert crossing == ["--from=builder /opt/venv /opt/venv"]


def test_every_run_step_is_the_shared_build_script() -> None:
    for stage, step in zip(parse(CONTAINERFILE).stages, ("builder", "runtime"), strict=True):
        runs = [i.exec_form() for i in stage.all("RUN")]
        assert runs == [["/bin/sh", "/usr/local/bin/switchboard-build-steps", step]]
        copies = [i.args for i in stage.all("COPY")]
        assert "deploy/build-steps.sh /usr/local/bin/switchboard-build-steps" in copies


def test_runs_as_non_root_with_health_check_and_serves_on_all_interfaces() -> None:
    runtime = parse(CONTAINERFILE).stages[-1]
    (user,) = runtime.all("USER")
    assert user.args.split(":")[0] not in ("root", "0")
    (health,) = runtime.all("HEALTHCHECK")
    assert "http://127.0.0.1:8787/health" in health.args
    (cmd,) = runtime.all("CMD")
    argv = cmd.exec_form()
    assert argv[:2] == ["switchboard", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    config = argv[argv.index("--config") + 1]
    assert f"deploy/switchboard.yaml {config}" in [i.args for i in runtime.all("COPY")]


@pytest.mark.parametrize("ignore", [".containerignore", ".dockerignore"])
def test_build_context_leaves_out_checkout_leftovers(ignore: str) -> None:
    lines = (ROOT / ignore).read_text().splitlines()
    assert {"**/__pycache__", "**/*.egg-info", ".venv"} <= set(lines)
