"""Running the app under uvicorn with uvloop and httptools."""

from __future__ import annotations

import sys

import uvicorn

from switchboard.app import create_app
from switchboard.auth import resolve_master_key
from switchboard.config import Config
from switchboard.log import start_logging


def run(config: Config, *, host: str | None, port: int | None, log_level: str) -> None:
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
        app = create_app(config, master_key)
        host = host or config.server.host
        port = port if port is not None else config.server.port
        print(
            f"switchboard: serving {len(config.models)} models on http://{host}:{port} "
            f"(Anthropic base URL http://{host}:{port}/anthropic)",
            file=sys.stderr,
            flush=True,
        )
        uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                loop="uvloop",
                http="httptools",
                lifespan="on",
                access_log=False,
                log_level="warning",
                server_header=False,
                date_header=False,
                # On SIGTERM: stop accepting, let requests finish this long, then cancel them
                # (the app ends each with an error the client can read).
                timeout_graceful_shutdown=config.server.shutdown_grace_seconds,
            )
        ).run()
    finally:
        listener.stop()
