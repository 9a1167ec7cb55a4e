"""SDK clients a test opens without a `with` block, closed when the test ends: an unclosed
client's socket is reported later, in whichever test the garbage collector happens to run
(pytest turns that into a failure of an unrelated test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeVar

import pytest


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)
_OPEN: list[Closable] = []


def opened(client: C) -> C:
    """`client`, closed at the end of the current test (by `close_clients`)."""
    _OPEN.append(client)
    return client


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()
