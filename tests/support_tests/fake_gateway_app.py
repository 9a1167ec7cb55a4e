"""Stand-in for ``python -m switchboard`` used to test GatewayProcess without the real gateway.

Accepts ``serve [--config FILE] --host H --port P``. Behaviour is picked by FAKE_GATEWAY_MODE:
``ok`` (default) serves /health and /state; ``exit`` fails at once; ``unhealthy`` answers 503 on
/health; ``ignore_term`` also ignores SIGTERM so the launcher must SIGKILL it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

import yaml


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--config")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    mode = os.environ.get("FAKE_GATEWAY_MODE", "ok")
    if mode == "exit":
        print("boom: bad config", file=sys.stderr)
        return 3
    config = None
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = yaml.safe_load(fh)
    state = {
        "config": config,
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "env_keys": sorted(os.environ),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body: object = state
            status = 200
            if self.path == "/health":
                status, body = (503 if mode == "unhealthy" else 200), {"ok": mode != "unhealthy"}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep output() to the lines the tests assert on

    server = ThreadingHTTPServer((args.host, args.port), Handler)

    def on_term(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run on another thread.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "ignore_term" else on_term)
    print(f"listening on {args.host}:{args.port}")
    print(f"secret={os.environ.get('FAKE_GATEWAY_SECRET', '')}", file=sys.stderr)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
