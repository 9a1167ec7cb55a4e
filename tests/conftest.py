"""For every test: Switchboard's default data directory is a temporary one, so nothing a test
runs (in process or as a subprocess, which inherits it) writes into the user's own.

Directories say what a test needs: everything under E2E_DIRS starts a server (the gateway as a
subprocess, a loopback upstream) or uses PostgreSQL/Redis, and is marked `e2e`; the rest (the
top level and tests/dialects) is pure, so `pytest -m "not e2e"` is the fast unit-only run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.closing import close_clients  # noqa: F401 - an autouse fixture

TESTS = Path(__file__).parent
E2E_DIRS = frozenset(
    {
        "batches",
        "bedrock",
        "claude_code",
        "claude_code_wire",
        "clients",
        "console",
        "deploy",
        "e2e",
        "embeddings",
        "google",
        "observability",
        "openai_surface",
        "platforms",
        "resilience",
        "responses",
        "servertools",
        "support_tests",
        "tenancy",
        "transport",
    }
)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # `-m "not e2e"` deselects all of these anyway: not importing them (the SDKs, the servers)
    # halves the unit run's time.
    if config.getoption("markexpr") == "not e2e" and collection_path.parent == TESTS:
        return collection_path.name in E2E_DIRS or None
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(TESTS).parts
        if len(parts) > 1 and parts[0] in E2E_DIRS:
            item.add_marker(pytest.mark.e2e)


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
