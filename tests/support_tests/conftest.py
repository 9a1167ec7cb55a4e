"""Fixtures for the test-support library's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mock_upstream import ScriptedUpstream


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up
