"""A gateway whose console nobody opens carries none of it: Jinja2 is imported on first use."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_app_imports_no_template_engine() -> None:
    code = (
        "import sys\n"
        "from switchboard.app import create_app\n"
        "from switchboard.config import parse_config\n"
        "config = parse_config({'providers': [{'name': 'd', 'kind': 'scripted'}], "
        "'models': [{'id': 'm', 'channels': [{'provider': 'd', 'model': 'd'}]}], "
        "'database': 'sqlite:///:memory:'}, 'test', env={})\n"
        "create_app(config, 'sk-master')\n"
        "print('jinja2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
