"""The connection depends on a protocol, not on the app: each imports without the other."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest


def _imported_by(module: str) -> set[str]:
    code = (
        f"import sys, {module}; "
        "print('\\n'.join(m for m in sys.modules if m.startswith('switchboard')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("switchboard.api.http11", "switchboard.app"),
        ("switchboard.app", "switchboard.api.http11"),
    ],
)
def test_module_imports_alone(module: str, must_not_load: str) -> None:
    assert must_not_load not in _imported_by(module)


def test_the_app_is_what_the_connection_serves() -> None:
    from switchboard.api.http11 import Application
    from switchboard.app import App

    served: type[Application] = App  # mypy checks App against the protocol
    assert inspect.iscoroutinefunction(served.serve)
