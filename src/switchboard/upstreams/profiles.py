"""A translating upstream's encoding profiles, each built once and kept on the upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from switchboard.upstreams.base import Call

P = TypeVar("P")


class ProfileCache(Generic[P]):
    """`make(call)`, once per (provider, upstream model, model profile): all three come from
    the config, so what is built from them never changes while the upstream lives."""

    __slots__ = ("_built", "_make")

    def __init__(self, make: Callable[[Call], P]) -> None:
        self._make = make
        self._built: dict[tuple[str, str, str], P] = {}

    def __call__(self, call: Call) -> P:
        key = (call.channel.provider.name, call.channel.model, call.profile.id)
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = self._make(call)
        return found
