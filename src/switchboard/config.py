"""The YAML config -> frozen, validated objects. Every error names the file, the field and what
is wrong; the CLI prints it and exits, never with a traceback."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

ProviderKind = Literal["openai", "anthropic", "scripted"]
Endpoint = Literal["anthropic", "openai"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    def __init__(self, source: str, field: str, problem: str) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"{source}: {where}{problem}")
        self.source = source
        self.field = field
        self.problem = problem


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class Timeouts(_Strict, frozen=True):
    """Seconds. `connect` bounds opening the connection, `first_byte` the wait for response
    headers, `idle` the gap between stream chunks, `total` a whole non-streaming call."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 300.0
    total: float = 900.0


class ProviderConfig(_Strict, frozen=True):
    name: str
    kind: ProviderKind
    base_url: str = ""
    api_key: str | None = None
    # More keys of the same account or of others: channels spread their traffic across all of
    # them (`api_key` counts as the first).
    api_keys: list[str] = []
    headers: dict[str, str] = {}
    # Which field carries the output limit upstream: OpenAI reasoning models reject `max_tokens`,
    # Ollama ignores `max_completion_tokens`.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # Whether the upstream takes `top_k` (vLLM, SGLang, llama.cpp, OpenRouter do; OpenAI does not).
    accepts_top_k: bool = False
    # Clean tool schemas of keywords strict validators refuse (Moonshot, strict OpenAI mode).
    strict_schemas: bool = False
    # An exact token counter for count_tokens: a vLLM or SGLang `/tokenize` URL (chat form).
    tokenize_url: str | None = None
    timeouts: Timeouts = Timeouts()
    # A non-streaming reply larger than this is an upstream failure, not something to buffer.
    max_reply_bytes: int = 64 * 1024 * 1024

    def keys(self) -> list[str | None]:
        """Every key to rotate through; [None] for a provider that needs none."""
        keys = ([self.api_key] if self.api_key else []) + [k for k in self.api_keys if k]
        return list(dict.fromkeys(keys)) or [None]


class ChannelConfig(_Strict, frozen=True):
    """One way to serve a model. Requests go to the healthy channels of the lowest `priority`,
    shared by `weight`. `api_key` overrides the provider's keys for this channel."""

    provider: str
    model: str
    priority: int = 0
    weight: int = 1
    api_key: str | None = None


class Capabilities(_Strict, frozen=True):
    vision: bool = True
    pdf: bool = False
    tools: bool = True
    thinking: bool = False
    # The upstream caches prompt prefixes by itself (DeepSeek, Kimi, OpenAI...): cache_control
    # breakpoints are then not needed, and the loss report says so instead of "dropped".
    prompt_caching: bool = False


class Reasoning(_Strict, frozen=True):
    """How a model's thinking is switched and what it needs back.

    control: how `thinking` is sent upstream: `none`; `reasoning_effort` (OpenAI, vLLM, Groq);
    `thinking` (a `{"type": "enabled"|"disabled"}` object: DeepSeek, Kimi, GLM, MiniMax);
    `enable_thinking` (DashScope, SiliconFlow: with `thinking_budget`); `chat_template` (vLLM,
    SGLang, llama.cpp `chat_template_kwargs.enable_thinking`); `openrouter` (`reasoning`).
    echo: whether earlier reasoning must be sent back on assistant turns (DeepSeek and Kimi
    thinking models answer 400 without it), under `echo_field`."""

    control: Literal[
        "none", "reasoning_effort", "thinking", "enable_thinking", "chat_template", "openrouter"
    ] = "none"
    echo: bool = False
    echo_field: Literal["reasoning_content", "reasoning"] = "reasoning_content"


class Pricing(_Strict, frozen=True):
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0


class ModelConfig(_Strict, frozen=True):
    id: str
    channels: list[ChannelConfig]
    endpoints: list[Endpoint] = msgspec.field(default_factory=lambda: ["anthropic", "openai"])
    aliases: list[str] = []
    display_name: str | None = None
    created_at: str = "1970-01-01T00:00:00Z"  # RFC 3339; shown by GET /v1/models
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: Capabilities = Capabilities()
    reasoning: Reasoning = Reasoning()
    pricing: Pricing = Pricing()


class KeyConfig(_Strict, frozen=True):
    name: str
    key: str


class ServerConfig(_Strict, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 32 * 1024 * 1024
    # Against slow clients: the whole body must arrive within this many seconds.
    body_timeout_seconds: float = 60.0
    max_messages: int = 10_000
    max_tools: int = 1_000
    # On SIGTERM: how long in-flight requests and streams may run before they are ended.
    shutdown_grace_seconds: int = 30
    # An idle client connection is closed after this long. Behind a load balancer, set it
    # above the balancer's own idle timeout, so the gateway never closes a connection the
    # balancer is about to reuse.
    keep_alive_seconds: float = 5.0


class Health(_Strict, frozen=True):
    """When a channel (one of its keys) is put in cooldown: after `failures` consecutive
    failures, or when at least `min_requests` in a `window_seconds` window failed at
    `error_rate` or more. After `cooldown_seconds` one probe request is let through."""

    failures: int = 3
    error_rate: float = 0.5
    min_requests: int = 10
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0


class Routing(_Strict, frozen=True):
    """Retries before the first byte: the next channel first, then back-off (honouring the
    upstream's retry-after) once every channel was tried; at most `max_attempts` attempts and
    `max_retry_seconds` of waiting and trying per request."""

    max_attempts: int = 4
    max_retry_seconds: float = 30.0
    backoff_seconds: float = 0.5  # the first back-off; doubled each round
    max_backoff_seconds: float = 8.0
    health: Health = Health()


class Documents(_Strict, frozen=True):
    """Fetching `url` document sources for upstreams that cannot fetch them. Off by default;
    when on, only public addresses are fetched (never private, loopback or link-local ones,
    unless `allow_private_addresses`, meant for tests), with a size cap and a timeout."""

    fetch_urls: bool = False
    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 15.0
    allow_private_addresses: bool = False


class Config(_Strict, frozen=True):
    master_key: str | None = None
    database: str = "sqlite:///./switchboard.db"
    redis: str | None = None
    # Every Redis key the gateway writes starts with this, so deployments can share a Redis.
    redis_prefix: str = "switchboard"
    # How long an instance trusts what it read about a database key (revocations made on
    # another instance, or with the CLI, take effect within this delay).
    key_cache_seconds: float = 5.0
    # Usage rows the database cannot take wait in this file (default: beside a SQLite
    # database, else ./switchboard.ledger-journal) and are replayed when it answers again.
    ledger_journal: str | None = None
    server: ServerConfig = ServerConfig()
    routing: Routing = Routing()
    documents: Documents = Documents()
    providers: list[ProviderConfig] = []
    keys: list[KeyConfig] = []
    models: list[ModelConfig] = []


def _path(loc: str) -> str:
    """msgspec's `$.providers[0].kind` -> `providers[0].kind`."""
    return loc.removeprefix("$").removeprefix(".")


def _interpolate(value: Any, field: str, source: str, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{field}.{k}" if field else str(k), source, env)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{field}[{i}]", source, env) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(source, field, f"environment variable {name} is not set")

        return _ENV_REF.sub(sub, value)
    return value


def parse_config(data: Any, source: str, env: dict[str, str] | None = None) -> Config:
    """Validate already-parsed YAML. `env` defaults to the process environment."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", "the top level must be a mapping of fields")
    data = _interpolate(data, "", source, dict(os.environ) if env is None else env)
    try:
        config = msgspec.convert(data, Config, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(source, *_split_validation(str(exc))) from None
    _check_references(config, source)
    return config


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(source, "", f"not valid YAML{where}") from None
    return parse_config(data, source, env)


def _split_validation(message: str) -> tuple[str, str]:
    """Turn a msgspec message into (field, problem)."""
    problem, _, loc = message.partition(" - at `")
    field = _path(loc.rstrip("`"))
    missing = re.match(r"Object missing required field `(.+)`", problem)
    if missing:
        name = missing.group(1)
        return (f"{field}.{name}" if field else name), "is required"
    unknown = re.match(r"Object contains unknown field `(.+)`", problem)
    if unknown:
        name = unknown.group(1)
        return (f"{field}.{name}" if field else name), "is not a known field (a typo?)"
    enum = re.match(r"Invalid enum value (.+)", problem)
    if enum:
        allowed = _ALLOWED.get(field.rsplit(".", 1)[-1].split("[")[0])
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return field, f"invalid value {enum.group(1)}{hint}"
    return field, problem[0].lower() + problem[1:]


_ALLOWED = {
    "kind": ("openai", "anthropic", "scripted"),
    "endpoints": ("anthropic", "openai"),
    "max_tokens_field": ("max_tokens", "max_completion_tokens"),
    "control": (
        "none",
        "reasoning_effort",
        "thinking",
        "enable_thinking",
        "chat_template",
        "openrouter",
    ),
    "echo_field": ("reasoning_content", "reasoning"),
}


def _check_references(config: Config, source: str) -> None:
    if not re.match(r"^(sqlite(\+aiosqlite)?:///|postgres(ql)?(\+asyncpg)?://)", config.database):
        raise ConfigError(source, "database", "must be sqlite:///PATH or postgresql://USER@HOST/DB")
    if config.redis is not None and not re.match(r"^(rediss?|unix)://", config.redis):
        raise ConfigError(source, "redis", "must be a redis://HOST:PORT/DB URL")
    if config.key_cache_seconds < 0:
        raise ConfigError(source, "key_cache_seconds", "must be 0 or more")
    seen: set[str] = set()
    for i, p in enumerate(config.providers):
        if p.name in seen:
            raise ConfigError(source, f"providers[{i}].name", f"duplicate provider '{p.name}'")
        seen.add(p.name)
        if p.kind != "scripted" and not re.match(r"^https?://", p.base_url):
            raise ConfigError(
                source, f"providers[{i}].base_url", "must be an http:// or https:// URL"
            )
    ids: set[str] = set()
    for i, m in enumerate(config.models):
        if m.id in ids:
            raise ConfigError(source, f"models[{i}].id", f"duplicate model id '{m.id}'")
        ids.add(m.id)
        if not m.channels:
            raise ConfigError(source, f"models[{i}].channels", "needs at least one channel")
        for j, ch in enumerate(m.channels):
            if ch.provider not in seen:
                raise ConfigError(
                    source,
                    f"models[{i}].channels[{j}].provider",
                    f"no provider named '{ch.provider}' "
                    f"(known: {', '.join(sorted(seen)) or 'none'})",
                )
    _check_numbers(config, source)
    names: set[str] = set()
    for i, k in enumerate(config.keys):
        if not k.key:
            raise ConfigError(source, f"keys[{i}].key", "must not be empty")
        if k.name in names:
            raise ConfigError(source, f"keys[{i}].name", f"duplicate key name '{k.name}'")
        names.add(k.name)


def _check_numbers(config: Config, source: str) -> None:
    for i, p in enumerate(config.providers):
        if p.max_reply_bytes < 1:
            raise ConfigError(source, f"providers[{i}].max_reply_bytes", "must be at least 1")
    for i, m in enumerate(config.models):
        for j, ch in enumerate(m.channels):
            if ch.weight < 1:
                raise ConfigError(source, f"models[{i}].channels[{j}].weight", "must be >= 1")
    r, s = config.routing, config.server
    if r.max_attempts < 1:
        raise ConfigError(source, "routing.max_attempts", "must be at least 1")
    if r.health.failures < 1:
        raise ConfigError(source, "routing.health.failures", "must be at least 1")
    if not 0 < r.health.error_rate <= 1:
        raise ConfigError(source, "routing.health.error_rate", "must be in (0, 1]")
    for name in ("max_messages", "max_tools"):
        if getattr(s, name) < 0:
            raise ConfigError(source, f"server.{name}", "must not be negative")
