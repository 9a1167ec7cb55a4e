"""The top-level Config: what one YAML file holds, and where Switchboard keeps its files when
the file does not say."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from switchboard.capture import CaptureConfig
from switchboard.config.base import Strict
from switchboard.config.features import Batches, Documents, Responses, Search
from switchboard.config.models import ModelConfig, RouteConfig
from switchboard.config.providers import ProviderConfig
from switchboard.config.server import Routing, ServerConfig, Upstreams
from switchboard.tracing import TelemetryConfig


class KeyConfig(Strict, frozen=True):
    name: str
    key: str


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


class Config(Strict, frozen=True):
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
