"""create_app(config): routes, the error boundary, the lifespan. The only composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from switchboard.api.admin import AdminHandler
from switchboard.api.anthropic import MessagesHandler
from switchboard.api.asgi import Exchange, Receive, Scope, Send
from switchboard.api.health import health
from switchboard.auth import Authenticator
from switchboard.catalog import Catalog
from switchboard.config import Config
from switchboard.dialects.anthropic.errors import error_body, error_event
from switchboard.errors import ApiError, GatewayError, InvalidRequest, NotFound
from switchboard.log import access
from switchboard.log import events as log
from switchboard.service import Gateway
from switchboard.tenancy import Tenancy
from switchboard.upstreams.http import HttpClient
from switchboard.usage import row_from_log

Handler = Callable[[Exchange], Awaitable[None]]

PREFIXES = ("/anthropic", "")


class App:
    """A raw ASGI application: a dict of routes and one error boundary."""

    def __init__(self, config: Config, master_key: str) -> None:
        self.config = config
        self.http = HttpClient()
        self.tenancy = Tenancy(config)
        self.gateway = Gateway(Catalog(config), self.http, self.tenancy.admission)
        auth = Authenticator(master_key, config, self.tenancy.keys)
        messages = MessagesHandler(self.gateway, auth, config.server.max_body_bytes)
        self.admin = AdminHandler(auth, self.tenancy.admin, self.tenancy.storage.ledger)
        self.routes: dict[tuple[str, str], Handler] = {("GET", "/health"): health}
        self.metered: set[str] = set()  # paths whose requests go in the usage ledger
        for prefix in PREFIXES:
            self.routes[("POST", f"{prefix}/v1/messages")] = messages
            self.metered.add(f"{prefix}/v1/messages")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(Exchange(scope, receive, send))
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.tenancy.start()  # migrations, then the ledger writer
                except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                    log.exception("cannot open the database")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await self.http.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.http.close()
                await self.tenancy.stop()  # flushes the usage ledger
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, ex: Exchange) -> None:
        path = ex.path.rstrip("/") or "/"
        handler = self.routes.get((ex.method, path))
        if handler is None and path.startswith("/admin/"):
            handler = self.admin
        try:
            if handler is None:
                if any(p == path for _, p in self.routes):
                    raise InvalidRequest(f"method {ex.method} is not allowed on {path}")
                raise NotFound(f"no route for {ex.method} {path}")
            await handler(ex)
        except GatewayError as exc:
            await self._fail(ex, exc)
        except Exception:  # noqa: BLE001 - the outermost boundary: a bug of ours
            log.exception("unhandled error in %s %s (request %s)", ex.method, path, ex.request_id)
            await self._fail(ex, ApiError("internal error in the gateway"))
        finally:
            if path != "/health":
                self._access(ex, path)
            if path in self.metered:
                self._meter(ex)

    async def _fail(self, ex: Exchange, exc: GatewayError) -> None:
        ex.log.setdefault("error_type", exc.error_type)
        ex.log.setdefault("error", exc.message)
        if ex.status == 0:
            await ex.respond(exc.status, error_body(exc, ex.request_id), exc.headers())
        elif ex.streaming:
            await ex.chunk(error_event(exc, ex.request_id))
            await ex.end_stream()

    def _meter(self, ex: Exchange) -> None:
        row = row_from_log(datetime.now(UTC), ex.request_id, ex.status, ex.elapsed_ms(), ex.log)
        if row is not None:
            self.tenancy.ledger.record(row)

    @staticmethod
    def _access(ex: Exchange, path: str) -> None:
        line = {
            "request_id": ex.request_id,
            "method": ex.method,
            "path": path,
            "status": ex.status,
            "latency_ms": ex.elapsed_ms(),
            **ex.log,
        }
        access.info(line)


def create_app(config: Config, master_key: str) -> App:
    return App(config, master_key)
