"""Reading a config: the YAML, `${VAR}` references to the environment, msgspec's validation
turned into one problem per bad field, the cross-field checks, and the built-in catalogue's
prices and limits for models listed by hand."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import yaml

from switchboard.config.checks import check_references
from switchboard.config.errors import ConfigError, Problems
from switchboard.config.models import ModelConfig, RouteConfig, is_glob
from switchboard.config.providers import ProviderConfig
from switchboard.config.root import Config, KeyConfig
from switchboard.kinds import Endpoint, ProviderKind
from switchboard.upstreams.proxy import Proxies

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
    check_references(config, problems)
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
    # Imported here: the catalogue is built from this package's types.
    from switchboard.catalog import builtin_models

    return inherit(parse_config(data, source, env), builtin_models())


def load_for_cli(path: Path | None) -> Config:
    """The config a command runs with: the file, or without one the built-in catalogue and
    the environment. A bad file prints every problem on stderr and exits 2 (both the gateway's
    commands and the key/usage/db commands load it this way)."""
    # Imported here: the catalogue is built from this package's types.
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
    "backend": ("searxng", "brave", "tavily", "exa"),
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
