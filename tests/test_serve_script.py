"""scripts/serve installs Switchboard once, says so while it does, and then starts at once: run
twice, pip runs once; a changed pyproject.toml installs again. The script runs for real; the
venv's python and switchboard are stand-ins that record how they were called (no real install)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
if [ "$1" = "-c" ]; then echo "3.11.0 (stand-in)"; exit 0; fi
echo "python $*" >>"$(dirname "$0")/../calls"
if [ "$1 $2 $3" = "-m pip install" ]; then
  printf '#!/usr/bin/env bash\\necho "switchboard $*" >>"$(dirname "$0")/../calls"\\n' \\
    >"$(dirname "$0")/switchboard"
  chmod +x "$(dirname "$0")/switchboard"
fi
"""


def serve(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "serve"), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_installs_once_and_again_only_when_pyproject_changes(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "serve", tmp_path / "scripts" / "serve")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "switchboard"\n')
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "python").chmod(0o755)
    calls = tmp_path / ".venv" / "calls"

    first = serve(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "installing Switchboard" in first.stderr
    assert "PATH" in first.stderr  # how to get `switchboard` on the PATH
    assert calls.read_text().splitlines() == [
        "python -m pip install -q --disable-pip-version-check -e .",
        "switchboard serve --port 1",
    ]

    calls.unlink()
    second = serve(tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    assert calls.read_text().splitlines() == ["switchboard serve --port 1"]

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "switchboard"\nversion = "2"\n')
    calls.unlink()
    third = serve(tmp_path)
    assert "installing Switchboard" in third.stderr
    assert calls.read_text().splitlines()[0].startswith("python -m pip install")
