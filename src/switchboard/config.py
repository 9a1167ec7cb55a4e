"""The YAML config -> frozen, validated objects. Every error names the file, the field and what
is wrong; the CLI prints it and exits, never with a traceback."""

from __future__ import annotations

import os
import re
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
import yaml

from switchboard.capture import CaptureConfig
from switchboard.kinds import CHAT_ENDPOINTS, EMBEDDING_KINDS, Endpoint, ProviderKind
from switchboard.tracing import TelemetryConfig
from switchboard.upstreams.proxy import Proxies

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """What is wrong with a config: `field` and `problem` are the first problem's, `lines` has
    one line per problem found (str() joins them), so a user fixes them all in one go."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"{source}: {where}{problem}")
        self.source = source
        self.field = field
        self.problem = problem
        self.lines = [str(self)]


class Problems:
    """Every problem found in one file, collected before any is reported."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[ConfigError] = []

    def add(self, field: str, problem: str) -> None:
        self.found.append(ConfigError(self.source, field, problem))

    def raise_any(self) -> None:
        if not self.found:
            return
        first = self.found[0]
        first.lines = [line for error in self.found for line in error.lines]
        first.args = ("\n".join(first.lines),)
        raise first


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
    # Whether a translated request's user id (Anthropic `metadata.user_id`) goes to an
    # OpenAI-dialect upstream as its `user` field. Off: Claude Code's carries a device id,
    # which another vendor has no need of.
    forward_user: bool = False
    # A non-streaming reply larger than this (once decompressed) is an upstream failure, not
    # something to buffer.
    max_reply_bytes: int = 64 * 1024 * 1024
    # The same for one event of a streamed reply: one that never ends must not grow forever.
    max_event_bytes: int = 16 * 1024 * 1024
    # Vertex AI (`kind: vertex`): the Google Cloud project and location that serve the models,
    # and the credentials file (service account...); without one, application-default
    # credentials. `base_url` then defaults to the location's aiplatform endpoint.
    project: str | None = None
    location: str = "global"
    credentials_file: str | None = None
    # AWS Bedrock (`kind: bedrock`): the region, and credentials from the config (else the
    # standard AWS chain: environment, shared files and `aws_profile`, web identity, instance
    # role). `base_url` is optional there: https://bedrock-runtime.{region}.amazonaws.com.
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_profile: str | None = None
    # Anthropic pass-through: the `anthropic-beta` flags this provider is sent (the others are
    # left out and reported). Unset: the built-in list of a known vendor (betas.py), else all.
    betas: list[str] | None = None
    # An OpenAI-kind upstream that also serves the Responses API at `{base_url}/responses`:
    # requests to the gateway's `/v1/responses` are relayed there as they are (else translated).
    responses_api: bool = False

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
    """USD per million tokens. Cached tokens are input tokens: a cache price not given (None)
    is the input price, so that a model priced without one never serves input for free; an
    explicit 0 is kept (the operator's word that cached input is free)."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None

    @property
    def cache_read_price(self) -> float:
        return self.input if self.cache_read is None else self.cache_read

    @property
    def cache_write_price(self) -> float:
        return self.input if self.cache_write is None else self.cache_write


class ModelConfig(_Strict, frozen=True):
    id: str
    channels: list[ChannelConfig]
    endpoints: list[Endpoint] = msgspec.field(default_factory=lambda: list(CHAT_ENDPOINTS))
    aliases: list[str] = []
    display_name: str | None = None
    created_at: str = "1970-01-01T00:00:00Z"  # RFC 3339; shown by GET /v1/models
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: Capabilities = Capabilities()
    reasoning: Reasoning = Reasoning()
    # None: not priced (keys with a budget are refused on it); `{}` prices it at zero.
    pricing: Pricing | None = None
    # Another name the model answers to and is listed under by `GET /v1/models`: Claude Code's
    # `/model` picker keeps only ids containing `claude` or `anthropic` (docs/claude-code.md).
    discovery_name: str | None = None


class RouteMatch(_Strict, frozen=True):
    """What a route tests; every condition given must hold (none given: every request)."""

    model: str | None = None  # the name the client sent: exact, or a glob (`claude-*haiku*`)
    thinking: bool | None = None  # the request asks for thinking (or reasoning effort)
    input_tokens_over: int | None = None  # the request's input token estimate is above this
    has_tool: str | None = None  # a tool of this type (`web_search_20250305`) or name
    endpoint: Endpoint | None = None  # the surface it came in by: anthropic or openai


class RouteConfig(_Strict, frozen=True):
    """Send the requests that `match` to the catalogue model `to` (routes.py)."""

    to: str
    match: RouteMatch = RouteMatch()


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
    when on, only public addresses are fetched, on every redirect hop (upstreams/urlguard.py;
    `allow_private_addresses` lifts that, for tests); a document over `max_bytes` is refused,
    and `timeout` bounds the whole fetch."""

    fetch_urls: bool = False
    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 15.0
    allow_private_addresses: bool = False


class Search(_Strict, frozen=True):
    """The search engine behind the `web_search` server tool on models that have none
    (servertools/). `backend`: searxng (its JSON API at `url`), brave or tavily (an `api_key`;
    `url` defaults to the vendor's). Off unless configured: a `web_search` tool on a translated
    request is then refused. `price_per_1000`: USD per 1,000 searches, charged to the key
    like tokens (Anthropic charges $10). `max_uses`: the most server tool calls (searches and
    fetches) one request may make, whatever its tools' own `max_uses` say."""

    backend: Literal["searxng", "brave", "tavily"]
    url: str | None = None
    api_key: str | None = None
    max_results: int = 5
    timeout: float = 10.0
    price_per_1000: float = 10.0
    max_uses: int = 10


class Upstreams(_Strict, frozen=True):
    """How the gateway connects to upstreams. At most `max_connections_per_origin` connections
    to one scheme://host:port (more requests wait for one, within their first-byte timeout).
    `ca_bundle`: a PEM file of the CAs trusted for https upstreams instead of the system's
    (else REQUESTS_CA_BUNDLE, else OpenSSL's defaults, which honour SSL_CERT_FILE and
    SSL_CERT_DIR). Proxies come from the environment: HTTPS_PROXY, HTTP_PROXY, NO_PROXY."""

    # Above the ~1,500 streams one process relays without stalls (bench/): the cap bounds a
    # runaway (file descriptors, an upstream flooded), not normal load.
    max_connections_per_origin: int = 2048
    ca_bundle: str | None = None


class Responses(_Strict, frozen=True):
    """The Responses API surface (docs/responses.md). `store`: responses are kept in the
    database for `previous_response_id`, scoped to the key that made them, for
    `retention_days`; off, a request naming a previous response is refused."""

    store: bool = False
    retention_days: Annotated[float, msgspec.Meta(gt=0, le=3650)] = 30.0


class Batches(_Strict, frozen=True):
    """The Message Batches and OpenAI Batch APIs (docs/batches.md). Batch requests are billed
    at `discount` off their model's price. Each gateway process runs at most `concurrency`
    batch requests at once, `per_batch` of one batch and `per_upstream` on one provider. A
    worker holds a request for `lease_seconds` (renewed while it runs), so a request of a
    process that died is taken up by another after that long. `poll_seconds`: how often a
    worker looks for work (tests set it low). A batch expires `expiry_hours` after it was
    created: what has not run by then is `expired`."""

    discount: float = 0.5
    max_requests: int = 100_000
    max_bytes: int = 256 * 1024 * 1024  # a create body, and an uploaded input file
    concurrency: int = 16
    per_batch: int = 4
    per_upstream: int = 8
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    expiry_hours: float = 24.0


def data_dir() -> Path:
    """Where Switchboard keeps its files when the config does not say: `$SWITCHBOARD_HOME`, else
    the user's data directory (`$XDG_DATA_HOME/switchboard`, `~/.local/share/switchboard`). One
    place, whatever the working directory, so the CLI and the gateway find the same database."""
    home = os.environ.get("SWITCHBOARD_HOME")
    if home:
        return Path(home).expanduser().absolute()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base.absolute() / "switchboard"


def default_database() -> str:
    return f"sqlite:///{data_dir() / 'switchboard.db'}"


class Config(_Strict, frozen=True):
    master_key: str | None = None
    database: str = msgspec.field(default_factory=default_database)
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
    search: Search | None = None
    upstreams: Upstreams = Upstreams()
    responses: Responses = Responses()
    batches: Batches = Batches()
    providers: list[ProviderConfig] = []
    keys: list[KeyConfig] = []
    models: list[ModelConfig] = []
    # Evaluated in order before the catalogue lookup: the first that matches names the model.
    routes: list[RouteConfig] = []
    # OpenTelemetry traces (tracing/): off unless `otlp_endpoint` is set.
    telemetry: TelemetryConfig = TelemetryConfig()
    # Request capture for debugging (capture/): off unless keys, models or a sample are chosen.
    capture: CaptureConfig = CaptureConfig()


def _path(loc: str) -> str:
    """msgspec's `$.providers[0].kind` -> `providers[0].kind`."""
    return loc.removeprefix("$").removeprefix(".")


def _interpolate(value: Any, field: str, problems: Problems, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{field}.{k}" if field else str(k), problems, env)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{field}[{i}]", problems, env) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.add(field, f"environment variable {name} is not set")
            return ""

        return _ENV_REF.sub(sub, value)
    return value


def parse_config(data: Any, source: str, env: dict[str, str] | None = None) -> Config:
    """Validate already-parsed YAML. `env` defaults to the process environment. Every problem
    is reported, not only the first (ConfigError.lines)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", "the top level must be a mapping of fields")
    problems = Problems(source)
    data = _interpolate(data, "", problems, dict(os.environ) if env is None else env)
    try:
        config = msgspec.convert(data, Config, str_keys=True)
    except msgspec.ValidationError as exc:
        _each_invalid(data, problems)
        if not problems.found:
            problems.add(*_split_validation(str(exc)))
        problems.raise_any()
        raise AssertionError("unreachable") from None
    _check_references(config, problems)
    try:
        Proxies.from_env(dict(os.environ) if env is None else env)
    except ValueError as exc:
        problems.add("", f"in the environment, {exc}")
    problems.raise_any()
    return config


# The lists whose items are checked one by one, so that each bad item is reported.
_ITEMS: dict[str, type[msgspec.Struct]] = {
    "providers": ProviderConfig,
    "models": ModelConfig,
    "keys": KeyConfig,
    "routes": RouteConfig,
}


def _each_invalid(data: dict[str, Any], problems: Problems) -> None:
    """msgspec stops at the first error: convert each field, and each item of the lists, alone
    (every Config field has a default) to find the others."""
    for name, value in data.items():
        item_type = _ITEMS.get(str(name))
        if item_type is not None and isinstance(value, list):
            for i, item in enumerate(value):
                try:
                    msgspec.convert(item, item_type, str_keys=True)
                except msgspec.ValidationError as exc:
                    field, problem = _split_validation(str(exc))
                    problems.add(f"{name}[{i}].{field}" if field else f"{name}[{i}]", problem)
            continue
        try:
            msgspec.convert({name: value}, Config, str_keys=True)
        except msgspec.ValidationError as exc:
            problems.add(*_split_validation(str(exc)))


def is_glob(alias: str) -> bool:
    return any(ch in alias for ch in "*?[")


def inherit(config: Config, known: Sequence[ModelConfig]) -> Config:
    """Config models that a known (built-in) model matches, by the config model's id or one of
    its channels' upstream models against the known model's id, exact aliases or upstream
    model, take its prices and limits where they set none: a model listed by hand is priced,
    and its replies bounded, like the same model in the catalogue."""
    index: dict[str, ModelConfig] = {}
    for m in known:
        for name in (m.id, *(a for a in m.aliases if not is_glob(a))):
            index.setdefault(name, m)
    for m in known:
        for ch in m.channels:
            index.setdefault(ch.model, m)
    models: list[ModelConfig] = []
    for m in config.models:
        names = (m.id, *(ch.model for ch in m.channels))
        base = next((index[n] for n in names if n in index), None)
        if base is not None:
            m = msgspec.structs.replace(
                m,
                pricing=m.pricing if m.pricing is not None else base.pricing,
                context_window=m.context_window or base.context_window,
                max_output_tokens=m.max_output_tokens or base.max_output_tokens,
            )
        models.append(m)
    return msgspec.structs.replace(config, models=models)


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
    # Imported here: the catalogue is built from this module's types.
    from switchboard.catalog import builtin_models

    return inherit(parse_config(data, source, env), builtin_models())


def load_for_cli(path: Path | None) -> Config:
    """The config a command runs with: the file, or without one the built-in catalogue and
    the environment. A bad file prints every problem on stderr and exits 2 (both the gateway's
    commands and the key/usage/db commands load it this way)."""
    # Imported here: the catalogue is built from this module's types.
    from switchboard.catalog import embedded_default

    try:
        return load_config(path) if path else embedded_default()
    except ConfigError as exc:
        for line in exc.lines:  # every problem in the file, not only the first
            print(f"switchboard: config error: {line}", file=sys.stderr)
        sys.exit(2)


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
    "kind": tuple(ProviderKind),
    "backend": ("searxng", "brave", "tavily"),
    "endpoints": tuple(Endpoint),
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


def _check_references(config: Config, problems: Problems) -> None:
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
            _check_vertex(i, p, problems)
        elif p.kind == ProviderKind.BEDROCK:
            _check_bedrock(p, f"providers[{i}]", problems)
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
    _check_telemetry(config.telemetry, problems)
    _check_capture(config.capture, problems)
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


def _check_vertex(i: int, p: ProviderConfig, problems: Problems) -> None:
    if p.base_url and not re.match(r"^https?://", p.base_url):
        problems.add(f"providers[{i}].base_url", "must be an http:// or https:// URL")
    # Both go into the URL's path and host: plain names only.
    if not p.project or not re.match(r"^[a-z][a-z0-9.:-]{0,62}$", p.project):
        problems.add(f"providers[{i}].project", "a Google Cloud project id is required")
    if not re.match(r"^[a-z][a-z0-9-]{0,62}$", p.location):
        problems.add(f"providers[{i}].location", "must be a location such as global or us-east5")
    if p.credentials_file is not None and not os.path.isfile(p.credentials_file):
        problems.add(f"providers[{i}].credentials_file", f"no file at {p.credentials_file}")


def _check_bedrock(p: ProviderConfig, where: str, problems: Problems) -> None:
    if not p.region or not re.match(r"^[a-z0-9-]{1,40}$", p.region):
        problems.add(f"{where}.region", "a bedrock provider needs its AWS region (e.g. us-east-1)")
    if p.base_url and not re.match(r"^https?://", p.base_url):
        problems.add(f"{where}.base_url", "must be an http:// or https:// URL (or left out)")
    if bool(p.aws_access_key_id) != bool(p.aws_secret_access_key):
        problems.add(
            f"{where}.aws_secret_access_key",
            "aws_access_key_id and aws_secret_access_key go together",
        )
    if p.api_key or p.api_keys:
        problems.add(f"{where}.api_key", "bedrock signs with AWS credentials, not an API key")


def _check_search(search: Search, problems: Problems) -> None:
    if search.url is not None and not re.match(r"^https?://", search.url):
        problems.add("search.url", "must be an http:// or https:// URL")
    if search.backend == "searxng" and search.url is None:
        problems.add("search.url", "searxng needs the URL of its instance")
    if search.backend != "searxng" and not search.api_key:
        problems.add("search.api_key", f"{search.backend} needs an API key")
    for name in ("max_results", "max_uses"):
        if not 1 <= getattr(search, name) <= 100:
            problems.add(f"search.{name}", "must be from 1 to 100")
    if search.timeout <= 0:
        problems.add("search.timeout", "must be more than 0")
    if search.price_per_1000 < 0:
        problems.add("search.price_per_1000", "must not be negative")


def _check_ca_bundle(path: str | None, problems: Problems) -> None:
    if path is None:
        return
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError:  # an OSError too: first
        problems.add("upstreams.ca_bundle", f"{path} holds no PEM certificate")
    except OSError as exc:
        problems.add("upstreams.ca_bundle", f"cannot read {path}: {exc.strerror}")


def _check_numbers(config: Config, problems: Problems) -> None:
    for i, p in enumerate(config.providers):
        for name in ("max_reply_bytes", "max_event_bytes"):
            if getattr(p, name) < 1:
                problems.add(f"providers[{i}].{name}", "must be at least 1")
    if config.upstreams.max_connections_per_origin < 1:
        problems.add("upstreams.max_connections_per_origin", "must be at least 1")
    _check_ca_bundle(config.upstreams.ca_bundle, problems)
    if config.search is not None:
        _check_search(config.search, problems)
    for i, m in enumerate(config.models):
        for j, ch in enumerate(m.channels):
            if ch.weight < 1:
                problems.add(f"models[{i}].channels[{j}].weight", "must be >= 1")
    _check_batches(config.batches, problems)
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


def _check_telemetry(t: TelemetryConfig, problems: Problems) -> None:
    if not 0 <= t.sample_ratio <= 1:
        problems.add("telemetry.sample_ratio", "must be in [0, 1]")
    if t.export_interval <= 0:
        problems.add("telemetry.export_interval", "must be more than 0 seconds")
    if t.enabled:
        parts = urlsplit(t.otlp_endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.add("telemetry.otlp_endpoint", "must be an http:// or https:// URL")


def _check_capture(c: CaptureConfig, problems: Problems) -> None:
    if not 0 <= c.sample_ratio <= 1:
        problems.add("capture.sample_ratio", "must be in [0, 1]")
    if c.retention_days <= 0:
        problems.add("capture.retention_days", "must be more than 0")
    if c.max_bytes < 1:
        problems.add("capture.max_bytes", "must be at least 1")
    for i, pattern in enumerate(c.redact):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.add(f"capture.redact[{i}]", f"not a regular expression: {exc}")


def _check_batches(b: Batches, problems: Problems) -> None:
    if not 0 <= b.discount < 1:
        problems.add("batches.discount", "must be in [0, 1) (the fraction taken off the price)")
    for name in ("max_requests", "max_bytes", "concurrency", "per_batch", "per_upstream"):
        if getattr(b, name) < 1:
            problems.add(f"batches.{name}", "must be at least 1")
    for name in ("lease_seconds", "poll_seconds", "expiry_hours"):
        if not getattr(b, name) > 0:
            problems.add(f"batches.{name}", "must be positive")
    if b.lease_seconds < 3 * b.poll_seconds:
        problems.add("batches.lease_seconds", "must be at least 3 times poll_seconds")
