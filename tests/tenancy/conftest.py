from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .services import postgres_database, redis_prefix


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage test runs on both databases."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'switchboard.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def redis() -> Iterator[tuple[str, str]]:
    with redis_prefix() as found:
        yield found
