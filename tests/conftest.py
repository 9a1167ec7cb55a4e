"""For every test: Switchboard's default data directory is a temporary one, so nothing a test
runs (in process or as a subprocess, which inherits it) writes into the user's own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def switchboard_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("SWITCHBOARD_HOME")
    os.environ["SWITCHBOARD_HOME"] = str(tmp_path_factory.mktemp("switchboard-home"))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SWITCHBOARD_HOME", None)
        else:
            os.environ["SWITCHBOARD_HOME"] = before
