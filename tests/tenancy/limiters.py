"""What the limiter tests share: a factory of limiters (the `make_limiter` fixture in
conftest.py gives one per backend) and a way to open one and run a test's work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from switchboard.limits import Limiter

# Calling it twice gives two views of the same limits (two instances on one Redis).
Factory = Callable[[], Limiter]


@asynccontextmanager
async def opened(factory: Factory) -> AsyncIterator[Limiter]:
    limiter = factory()
    try:
        yield limiter
    finally:
        await limiter.close()


def go(work: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(work, 30))  # type: ignore[arg-type]
