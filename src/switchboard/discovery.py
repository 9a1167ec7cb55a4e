"""The names `GET /v1/models` publishes: every catalogue model under its id, and besides, the
names clients can pick that the catalogue does not list as ids.

Claude Code's `/model` picker takes gateway models from `GET /v1/models` (when
CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY is set) and keeps only ids containing `claude` or
`anthropic`, so a model served by another vendor shows there only under such a name: its
`discovery_name`, or a literal model name a route sends to it. A name whose model has a context
window of 1M tokens or more is also published with Claude Code's `[1m]` suffix, which marks
its 1M-context variant (the suffix is removed again when a request comes in: routes.py)."""

from __future__ import annotations

import msgspec

from switchboard.catalog import Catalog, ModelEntry
from switchboard.config import ModelConfig
from switchboard.kinds import Endpoint
from switchboard.routes import LONG_CONTEXT_SUFFIX, Routes, base_name

LONG_CONTEXT = 1_000_000


def _as(profile: ModelConfig, name: str) -> ModelConfig:
    return msgspec.structs.replace(profile, id=name, display_name=profile.display_name or name)


class Published:
    """What the Anthropic model list shows, in order, and what `GET /v1/models/{id}` finds."""

    def __init__(self, catalog: Catalog, routes: Routes, endpoint: Endpoint) -> None:
        self._by_name: dict[str, ModelConfig] = {}
        extra: list[tuple[str, ModelEntry]] = []
        for entry in catalog.models():
            if entry.profile.discovery_name is not None:
                extra.append((entry.profile.discovery_name, entry))
        for name, target in routes.literal_names():
            routed = catalog.resolve(target)
            if routed is not None:
                extra.append((name, routed))
        for entry in catalog.models():
            if endpoint in entry.profile.endpoints:
                self._by_name.setdefault(entry.id, entry.profile)
        for name, entry in extra:
            if endpoint not in entry.profile.endpoints or name in self._by_name:
                continue
            self._by_name[name] = _as(entry.profile, name)
            if (entry.profile.context_window or 0) >= LONG_CONTEXT:
                long = name + LONG_CONTEXT_SUFFIX
                self._by_name.setdefault(long, _as(entry.profile, long))

    def profiles(self) -> list[ModelConfig]:
        return list(self._by_name.values())

    def find(self, name: str) -> ModelConfig | None:
        """A published name, with or without the `[1m]` suffix."""
        found = self._by_name.get(name)
        if found is None and name != base_name(name):
            found = self._by_name.get(base_name(name))
        return found
