"""The checks that look across fields: references between providers, models, routes and keys,
and the numbers' bounds; each section's own checks live with its records."""

from __future__ import annotations

import re

from switchboard.config.errors import Problems
from switchboard.config.features import (
    check_batches,
    check_capture,
    check_search,
    check_telemetry,
)
from switchboard.config.models import is_glob
from switchboard.config.providers import check_bedrock, check_vertex
from switchboard.config.root import Config
from switchboard.config.server import check_ca_bundle
from switchboard.kinds import EMBEDDING_KINDS, Endpoint, ProviderKind


def check_references(config: Config, problems: Problems) -> None:
    if not re.match(r"^(sqlite(\+aiosqlite)?:///|postgres(ql)?(\+asyncpg)?://)", config.database):
        problems.add("database", "must be sqlite:///PATH or postgresql://USER@HOST/DB")
    if config.redis is not None and not re.match(r"^(rediss?|unix)://", config.redis):
        problems.add("redis", "must be a redis://HOST:PORT/DB URL")
    if config.key_cache_seconds < 0:
        problems.add("key_cache_seconds", "must be 0 or more")
    seen: set[str] = set()
    for i, p in enumerate(config.providers):
        if p.name in seen:
            problems.add(f"providers[{i}].name", f"duplicate provider '{p.name}'")
        seen.add(p.name)
        if p.kind == ProviderKind.VERTEX:
            check_vertex(i, p, problems)
        elif p.kind == ProviderKind.BEDROCK:
            check_bedrock(p, f"providers[{i}]", problems)
        elif p.kind != ProviderKind.SCRIPTED and not re.match(r"^https?://", p.base_url):
            problems.add(f"providers[{i}].base_url", "must be an http:// or https:// URL")
        for j, flag in enumerate(p.betas or []):
            if not re.match(r"^[a-z0-9][a-z0-9._-]{0,99}$", flag):
                problems.add(
                    f"providers[{i}].betas[{j}]", "must be a flag name such as effort-2025-11-24"
                )
        if p.responses_api and p.kind != ProviderKind.OPENAI:
            problems.add(f"providers[{i}].responses_api", "only an openai provider serves it")
    kinds = {p.name: p.kind for p in config.providers}
    ids: set[str] = set()
    for i, m in enumerate(config.models):
        if m.id in ids:
            problems.add(f"models[{i}].id", f"duplicate model id '{m.id}'")
        ids.add(m.id)
        if not m.channels:
            problems.add(f"models[{i}].channels", "needs at least one channel")
        for j, ch in enumerate(m.channels):
            if ch.provider not in seen:
                problems.add(
                    f"models[{i}].channels[{j}].provider",
                    f"no provider named '{ch.provider}' "
                    f"(known: {', '.join(sorted(seen)) or 'none'})",
                )
            elif Endpoint.EMBEDDINGS in m.endpoints and kinds[ch.provider] not in EMBEDDING_KINDS:
                problems.add(
                    f"models[{i}].channels[{j}].provider",
                    f"an embeddings model needs a provider of kind "
                    f"{' or '.join(sorted(EMBEDDING_KINDS))}, not {kinds[ch.provider]}",
                )
    _check_numbers(config, problems)
    _check_routes(config, problems)
    check_telemetry(config.telemetry, problems)
    check_capture(config.capture, problems)
    names: set[str] = set()
    for i, k in enumerate(config.keys):
        if not k.key:
            problems.add(f"keys[{i}].key", "must not be empty")
        if k.name in names:
            problems.add(f"keys[{i}].name", f"duplicate key name '{k.name}'")
        names.add(k.name)


def _check_routes(config: Config, problems: Problems) -> None:
    """A route must lead to a model the catalogue names exactly (a glob alias is no target),
    and a discovery name must be one name for one model."""
    known: dict[str, str] = {}
    for i, m in enumerate(config.models):
        names = (m.id, *(a for a in m.aliases if not is_glob(a)))
        for name in names:
            known.setdefault(name, m.id)
        if m.discovery_name is not None:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}", m.discovery_name):
                problems.add(f"models[{i}].discovery_name", "letters, digits and ._:/@- only")
            elif known.setdefault(m.discovery_name, m.id) != m.id:
                problems.add(
                    f"models[{i}].discovery_name",
                    f"'{m.discovery_name}' already names model '{known[m.discovery_name]}'",
                )
    for i, r in enumerate(config.routes):
        if r.to not in known:
            problems.add(
                f"routes[{i}].to",
                f"no model named '{r.to}' (a model id, exact alias or discovery_name)",
            )
        if r.match.input_tokens_over is not None and r.match.input_tokens_over < 0:
            problems.add(f"routes[{i}].match.input_tokens_over", "must not be negative")


def _check_numbers(config: Config, problems: Problems) -> None:
    for i, p in enumerate(config.providers):
        for name in ("max_reply_bytes", "max_event_bytes"):
            if getattr(p, name) < 1:
                problems.add(f"providers[{i}].{name}", "must be at least 1")
    if config.upstreams.max_connections_per_origin < 1:
        problems.add("upstreams.max_connections_per_origin", "must be at least 1")
    check_ca_bundle(config.upstreams.ca_bundle, problems)
    if config.search is not None:
        check_search(config.search, problems)
    for i, m in enumerate(config.models):
        for j, ch in enumerate(m.channels):
            if ch.weight < 1:
                problems.add(f"models[{i}].channels[{j}].weight", "must be >= 1")
    check_batches(config.batches, problems)
    r, s = config.routing, config.server
    if r.max_attempts < 1:
        problems.add("routing.max_attempts", "must be at least 1")
    if r.health.failures < 1:
        problems.add("routing.health.failures", "must be at least 1")
    if not 0 < r.health.error_rate <= 1:
        problems.add("routing.health.error_rate", "must be in (0, 1]")
    for name in ("max_messages", "max_tools"):
        if getattr(s, name) < 0:
            problems.add(f"server.{name}", "must not be negative")
