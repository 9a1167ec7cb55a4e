"""Running the app under uvicorn with uvloop and our HTTP/1.1 protocol (api/http11.py): in this
process, or in N worker processes sharing one listening socket (`serve --workers N`), each
building its own app."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from switchboard.api.http11 import Connection
from switchboard.app import App, create_app
from switchboard.config import Config, load_config
from switchboard.log import start_logging
from switchboard.tenancy.auth import resolve_master_key

# How `serve --workers N` tells its workers what to build (an empty path: the embedded default).
CONFIG_ENV = "SWITCHBOARD_CONFIG"
LOG_LEVEL_ENV = "SWITCHBOARD_LOG_LEVEL"

_UVICORN: dict[str, Any] = {
    "loop": "uvloop",
    "http": Connection,
    "lifespan": "on",
    "access_log": False,
    # Neither wraps the app in middleware, which the protocol class could not call through:
    # the client's address is never used, and trace logging is never on.
    "proxy_headers": False,
    "log_level": "warning",
}


def _uvicorn_options(config: Config) -> dict[str, Any]:
    # On SIGTERM: stop accepting, let requests finish this long, then cancel them (the app ends
    # each with an error the client can read).
    return {
        **_UVICORN,
        "timeout_graceful_shutdown": config.server.shutdown_grace_seconds,
        "timeout_keep_alive": config.server.keep_alive_seconds,
    }


def worker_app() -> App:
    """The app factory each worker of `serve --workers N` calls (uvicorn `factory=True`)."""
    from switchboard.catalog import embedded_default

    listener = start_logging(os.environ.get(LOG_LEVEL_ENV, "INFO"))
    atexit.register(listener.stop)
    path = os.environ.get(CONFIG_ENV)
    config = load_config(path) if path else embedded_default()
    master_key, _ = resolve_master_key(config)  # the parent already generated it if needed
    return create_app(config, master_key)


def run(
    config: Config,
    *,
    host: str | None,
    port: int | None,
    log_level: str,
    workers: int = 1,
    config_file: Path | None = None,
) -> None:
    listener = start_logging(log_level)
    try:
        master_key, generated = resolve_master_key(config)
        if generated is not None:
            # Printed once, at first start, so the operator can use it; never logged again.
            print(
                f"switchboard: generated a master key (stored in {generated}):\n  {master_key}",
                file=sys.stderr,
                flush=True,
            )
        host = host or config.server.host
        port = port if port is not None else config.server.port
        print(
            f"switchboard: serving {len(config.models)} models on http://{host}:{port} "
            f"(Anthropic base URL http://{host}:{port}/anthropic)"
            + (f" with {workers} worker processes" if workers > 1 else ""),
            file=sys.stderr,
            flush=True,
        )
        if workers > 1:
            os.environ[CONFIG_ENV] = str(config_file.resolve()) if config_file else ""
            os.environ[LOG_LEVEL_ENV] = log_level
            uvicorn.run(
                "switchboard.server:worker_app",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                **_uvicorn_options(config),
            )
            return
        app = create_app(config, master_key)
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, **_uvicorn_options(config))).run()
    finally:
        listener.stop()
