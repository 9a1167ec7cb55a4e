"""Model profiles as data: ids, aliases (exact or glob), channels, capabilities, prices."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgspec
import yaml

from switchboard.config import (
    Capabilities,
    ChannelConfig,
    Config,
    ConfigError,
    ModelConfig,
    Pricing,
    ProviderConfig,
    RouteConfig,
    RouteMatch,
    is_glob,
    parse_config,
)
from switchboard.kinds import ProviderKind

DEMO_MODEL = "switchboard/demo"


@dataclass(frozen=True, slots=True)
class Channel:
    """One way to serve a model. `keys` are the credentials it may rotate through; `api_key`
    is the one a call uses (the router picks it; the first by default)."""

    provider: ProviderConfig
    model: str
    priority: int = 0
    weight: int = 1
    keys: tuple[str | None, ...] = (None,)
    api_key: str | None = None

    @property
    def name(self) -> str:
        return f"{self.provider.name}/{self.model}"


def _channel(provider: ProviderConfig, c: ChannelConfig) -> Channel:
    keys = (c.api_key,) if c.api_key else tuple(provider.keys())
    return Channel(provider, c.model, c.priority, c.weight, keys, keys[0])


@dataclass(frozen=True, slots=True)
class ModelEntry:
    profile: ModelConfig
    channels: tuple[Channel, ...]
    # What a key's allow-list is matched against: the names that denote this model alone (its
    # id and exact aliases), and its glob aliases as written.
    names: tuple[str, ...] = ()
    globs: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return self.profile.id


class Catalog:
    """Resolves the names clients send. Exact ids and exact aliases first; then glob aliases in
    config order, so `claude-*` can send whatever Claude Code asks for to one model."""

    def __init__(self, config: Config) -> None:
        providers = {p.name: p for p in config.providers}
        self._models: list[ModelEntry] = []
        self._exact: dict[str, ModelEntry] = {}
        self._globs: list[tuple[str, ModelEntry]] = []
        for m in config.models:
            # By priority (lower first); the router chooses among them per request.
            ordered = sorted(m.channels, key=lambda c: c.priority)
            entry = ModelEntry(
                m,
                tuple(_channel(providers[c.provider], c) for c in ordered),
                names=(m.id, *(a for a in m.aliases if not is_glob(a))),
                globs=frozenset(a for a in m.aliases if is_glob(a)),
            )
            self._models.append(entry)
            self._exact[m.id] = entry
        for entry in self._models:
            if entry.profile.discovery_name is not None:
                self._exact.setdefault(entry.profile.discovery_name, entry)
            for alias in entry.profile.aliases:
                if is_glob(alias):
                    self._globs.append((alias, entry))
                else:
                    self._exact.setdefault(alias, entry)

    def resolve(self, name: str) -> ModelEntry | None:
        entry = self._exact.get(name)
        if entry is not None:
            return entry
        for pattern, candidate in self._globs:
            if fnmatch.fnmatchcase(name, pattern):
                return candidate
        return None

    def models(self) -> list[ModelEntry]:
        return list(self._models)


def _builtin() -> dict[str, Any]:
    text = resources.files("switchboard.catalog").joinpath("builtin.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def builtin_models() -> list[ModelConfig]:
    """The built-in catalogue's models: what config models inherit prices and limits from."""
    try:
        return msgspec.convert(_builtin()["models"], list[ModelConfig])
    except msgspec.ValidationError as exc:  # a packaging mistake, not the user's
        raise ConfigError("built-in catalogue", "models", str(exc)) from None


def embedded_default(env: dict[str, str] | None = None) -> Config:
    """The config used when `serve` gets no file: providers whose environment variable is set,
    their catalogue models, and the offline demo model."""
    env = dict(os.environ) if env is None else env
    data = _builtin()
    providers: list[dict[str, Any]] = []
    for p in data["providers"]:
        p = dict(p)
        var = p.pop("env")
        if p["kind"] == ProviderKind.BEDROCK:  # the AWS chain signs; the region is the variable's
            if env.get(var) and (env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE")):
                providers.append({**p, "region": env[var]})
            continue
        # Vertex: the variable names a credentials file, and a project id must be set too.
        target = p.pop("env_as", "api_key")
        fields = {
            name: next((env[v] for v in names if env.get(v)), None)
            for name, names in p.pop("env_fields", {}).items()
        }
        if env.get(var) and (target == "api_key" or fields.get("project")):
            p[target] = env[var]
            p.update({k: v for k, v in fields.items() if v})
            providers.append(p)
    active = {p["name"] for p in providers}
    models = [m for m in data["models"] if m["channels"][0]["provider"] in active]
    config = parse_config(
        {"providers": providers, "models": models, "master_key": env.get("SWITCHBOARD_MASTER_KEY")},
        "built-in catalogue",
        env={},
    )
    demo_provider = ProviderConfig(name="demo", kind=ProviderKind.SCRIPTED)
    demo_model = ModelConfig(
        id=DEMO_MODEL,
        channels=[ChannelConfig(provider="demo", model="demo")],
        display_name="Switchboard offline demo",
        context_window=32768,
        max_output_tokens=4096,
        capabilities=Capabilities(vision=True, pdf=False, tools=False, thinking=False),
        pricing=Pricing(),  # scripted replies cost nothing: budgeted keys may use it
    )
    return Config(
        master_key=config.master_key,
        providers=[*config.providers, demo_provider],
        models=[demo_model, *config.models],
        routes=claude_code_routes(data["claude_code"], {m.id for m in config.models}),
    )


# Claude Code's model families, as it names them (`claude-opus-4-6`, `claude-3-5-haiku-...`),
# and which family a name of none of them (a new family) is taken as.
_FAMILIES = (("opus", "claude-*opus*"), ("haiku", "claude-*haiku*"), ("sonnet", "claude-*sonnet*"))
_OTHER_CLAUDE = ("sonnet", "claude-*")


def claude_code_routes(preferences: dict[str, list[str]], available: set[str]) -> list[RouteConfig]:
    """The embedded default's routes: each Claude Code family to its first preferred model that
    a configured provider serves, else the demo model, so Claude Code answers out of the box
    rather than 404 (with the Anthropic provider configured, a Claude name goes to Claude)."""

    def target(family: str) -> str:
        return next((m for m in preferences[family] if m in available), DEMO_MODEL)

    return [
        RouteConfig(to=target(family), match=RouteMatch(model=pattern))
        for family, pattern in (*_FAMILIES, _OTHER_CLAUDE)
    ]
