"""The YAML config -> frozen, validated objects. Every error names the file, the field and what
is wrong; the CLI prints it and exits, never with a traceback.

The records by section: providers.py, models.py (models, channels, routes), server.py (server,
routing, upstreams), features.py (documents, search, responses, batches), root.py (the
top-level Config and keys); loading.py reads a file (YAML, environment references, msgspec's
errors per field), checks.py the checks across fields, errors.py ConfigError. The rest of
Switchboard imports from `switchboard.config`, which names them all here."""

from __future__ import annotations

from switchboard.config.errors import ConfigError, Problems
from switchboard.config.features import Batches, Documents, Responses, Search
from switchboard.config.loading import inherit, load_config, load_for_cli, parse_config
from switchboard.config.models import (
    Capabilities,
    ChannelConfig,
    ModelConfig,
    Pricing,
    Reasoning,
    RouteConfig,
    RouteMatch,
    is_glob,
)
from switchboard.config.providers import ProviderConfig, Timeouts
from switchboard.config.root import Config, KeyConfig, data_dir, default_database
from switchboard.config.server import Health, Routing, ServerConfig, Upstreams

__all__ = [
    "Batches",
    "Capabilities",
    "ChannelConfig",
    "Config",
    "ConfigError",
    "Documents",
    "Health",
    "KeyConfig",
    "ModelConfig",
    "Pricing",
    "Problems",
    "ProviderConfig",
    "Reasoning",
    "Responses",
    "RouteConfig",
    "RouteMatch",
    "Routing",
    "Search",
    "ServerConfig",
    "Timeouts",
    "Upstreams",
    "data_dir",
    "default_database",
    "inherit",
    "is_glob",
    "load_config",
    "load_for_cli",
    "parse_config",
]
