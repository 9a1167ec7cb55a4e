from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.limits.memory import MemoryLimiter
from switchboard.limits.redis import RedisLimiter

from .limiters import Factory
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


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Each limiter backend: calling it twice gives two views of the same limits (two
    instances on one Redis)."""
    if request.param == "memory":
        shared = MemoryLimiter()
        yield lambda: shared
        return
    with redis_prefix() as (url, prefix):
        yield lambda: RedisLimiter(url, prefix)
