"""create_app(config): routes, the error boundary, the lifespan. The only composition root."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from switchboard.api.admin import AdminHandler
from switchboard.api.admin_channels import ChannelsHandler
from switchboard.api.anthropic import CountTokensHandler, MessagesHandler
from switchboard.api.bounds import Bounds
from switchboard.api.exchange import Exchange
from switchboard.api.health import Health
from switchboard.api.inflight import InFlight
from switchboard.api.metrics import MetricsHandler
from switchboard.api.models import ModelsHandler
from switchboard.api.openai import ChatCompletionsHandler
from switchboard.api.openai import ModelsHandler as OpenAIModelsHandler
from switchboard.catalog import Catalog
from switchboard.config import Config
from switchboard.dialects.anthropic import errors as anthropic_errors
from switchboard.dialects.openai_chat import errors as openai_errors
from switchboard.errors import (
    ApiError,
    GatewayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    release,
)
from switchboard.log import access_fields, access_log, use_redactor
from switchboard.log import events as log
from switchboard.metrics import Metrics
from switchboard.redact import Redactor
from switchboard.service import Gateway
from switchboard.signing import ThinkingSigner
from switchboard.tenancy.auth import Authenticator
from switchboard.tenancy.runtime import Tenancy
from switchboard.tenancy.usage import ledger_row
from switchboard.upstreams.http import HttpClient

Handler = Callable[[Exchange], Awaitable[None]]
# The lifespan's side of ASGI, which is all of ASGI the app still speaks.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Routes whose last segment is a parameter that may itself hold slashes (model ids do).
SuffixHandler = Callable[[Exchange, str], Awaitable[None]]

PREFIXES = ("/anthropic", "")
OPENAI_PREFIX = "/openai"
# Not requests to count or log: probes and scrapes.
UNLOGGED = frozenset({"/health", "/metrics"})
# How long shutdown waits for the requests it cancelled to end (they only settle and write).
SHUTDOWN_WAIT = 5.0


class App:
    """The routes, one error boundary, and the lifespan."""

    def __init__(self, config: Config, master_key: str) -> None:
        self.config = config
        # Upstream text reaching a client or a log passes it; built once, from this config.
        self.redactor = Redactor.of(config, master_key)
        use_redactor(self.redactor.text)
        self.http = HttpClient(self.redactor, config.upstreams)
        signer = ThinkingSigner.from_master_key(master_key)
        self.tenancy = Tenancy(config)
        self.gateway = Gateway(
            Catalog(config),
            self.http,
            signer,
            self.tenancy.admission,
            config.documents,
            config.routing,
        )
        self.in_flight = InFlight()
        self.ledger = self.tenancy.ledger
        self.metrics = Metrics(self.gateway.router, self.in_flight.counts, self.ledger)
        auth = Authenticator(master_key, config, self.tenancy.keys)
        self.admin = AdminHandler(auth, self.tenancy.admin, self.tenancy.storage.ledger)
        bounds = Bounds.of(config.server)
        messages = MessagesHandler(self.gateway, auth, bounds)
        models = ModelsHandler(self.gateway.catalog, auth)
        count = CountTokensHandler(self.gateway, auth, bounds)
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): Health(lambda: self.ledger.accepting),
            ("GET", "/metrics"): MetricsHandler(self.metrics),
            ("GET", "/admin/channels"): ChannelsHandler(self.gateway.router, auth),
        }
        self.suffix_routes: list[tuple[str, str, SuffixHandler]] = []
        self.metered: set[str] = set()  # paths whose requests go in the usage ledger
        for prefix in PREFIXES:
            self.routes[("POST", f"{prefix}/v1/messages")] = messages
            self.metered.add(f"{prefix}/v1/messages")
            self.routes[("POST", f"{prefix}/v1/messages/count_tokens")] = count
            self.routes[("GET", f"{prefix}/v1/models")] = models.list
            self.suffix_routes.append(("GET", f"{prefix}/v1/models/", models.retrieve))
        chat = ChatCompletionsHandler(self.gateway, auth, bounds)
        self.openai_models = OpenAIModelsHandler(self.gateway.catalog, auth)
        # Clients set base_url with or without /v1; both must work (openai-chat-api.md 8.1).
        for path in ("/v1/chat/completions", "/chat/completions"):
            self.routes[("POST", path)] = chat
            self.routes[("POST", OPENAI_PREFIX + path)] = chat
        self.routes[("GET", f"{OPENAI_PREFIX}/v1/models")] = self.openai_models.list_models
        self.routes[("GET", f"{OPENAI_PREFIX}/models")] = self.openai_models.list_models
        # The unprefixed list is shared: Anthropic clients always send anthropic-version or
        # x-api-key; anything else is answered in OpenAI shape.
        anthropic_list = models.list

        async def list_models(ex: Exchange) -> None:
            if "anthropic-version" in ex.headers or "x-api-key" in ex.headers:
                await anthropic_list(ex)
            else:
                await self.openai_models.list_models(ex)

        self.routes[("GET", "/v1/models")] = list_models
        self.openai_paths = {p for _, p in self.routes if "/chat/completions" in p}
        self.metered |= self.openai_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI, for the lifespan only: uvicorn runs startup and shutdown through it, and
        hands requests to `serve` through its protocol class (api/http11.py)."""
        if scope["type"] == "lifespan":
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
                # What exists at start lives as long as the process: out of the cyclic
                # collector's sight, a full collection scans only what requests allocate
                # (with a 90 KB body, 11 ms per gen-2 pass before, under 1 ms after). And
                # fewer young-generation passes: a request allocates thousands of containers,
                # nearly all freed by reference counting before any pass could matter.
                gc.freeze()
                gc.set_threshold(10_000, 10, 10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # uvicorn cancels the requests still running past the grace period and goes on
                # at once: let them end (a cut stream settles and records what it delivered)
                # before the ledger writer stops.
                running = [ex.task for ex in self.in_flight.exchanges]
                if running:
                    await asyncio.wait(running, timeout=SHUTDOWN_WAIT)
                self.in_flight.close()
                await self.http.close()
                await self.tenancy.stop()  # flushes the usage ledger
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def serve(self, ex: Exchange) -> None:
        path = ex.path.rstrip("/") or "/"
        # HEAD is GET without the body (load balancers probe with it); the exchange drops it.
        method = "GET" if ex.head_only else ex.method
        handler = self.routes.get((method, path))
        if path in self.openai_paths or path.startswith(OPENAI_PREFIX + "/"):
            ex.dialect = "openai"
        if handler is None and path.startswith("/admin/"):
            handler = self.admin
        self.in_flight.add(ex)
        try:
            if not self.ledger.accepting and path in self.metered:
                # Neither the database nor the journal takes usage rows: serving would be
                # serving unbilled.
                raise Overloaded(
                    "the gateway cannot record usage right now; retry the request", retry_after=5
                )
            if handler is not None:
                await handler(ex)
            else:
                await self._suffix_route(ex, method, path)
        except GatewayError as exc:
            try:
                await self._fail(ex, exc)
            finally:
                release(exc)  # a failing request's frames (and body) go with its answer
        except asyncio.CancelledError:
            # Not the client leaving (handlers absorb that): the server ending the request,
            # past the shutdown grace period. The client gets a well-formed ending; the task
            # was cancelled once, and ends here.
            await self._fail(ex, Overloaded("the gateway is shutting down; retry the request"))
        except Exception as exc:  # noqa: BLE001 - the outermost boundary: a bug of ours
            log.exception("unhandled error in %s %s (request %s)", ex.method, path, ex.request_id)
            release(exc)  # logged (formatted at once): its frames are not needed any more
            await self._fail(ex, ApiError("internal error in the gateway"))
        finally:
            self.in_flight.discard(ex)
            if path not in UNLOGGED:
                elapsed = ex.elapsed_ms()
                self._access(ex, path, elapsed)
                if path in self.metered:
                    self._meter(ex, elapsed)

    async def _suffix_route(self, ex: Exchange, method: str, path: str) -> None:
        for allowed, prefix, handler in self.suffix_routes:
            if path.startswith(prefix) and len(path) > len(prefix) and method == allowed:
                await handler(ex, path.removeprefix(prefix))
                return
        if any(p == path for _, p in self.routes):
            raise InvalidRequest(f"method {ex.method} is not allowed on {path}")
        raise NotFound(f"no route for {ex.method} {path}")

    async def _fail(self, ex: Exchange, exc: GatewayError) -> None:
        if ex.finished or ex.client_gone:
            return
        ex.record.failed(exc.error_type, exc.message)
        # The envelope of the client's dialect, as the route (or its handler) declared it.
        errors = openai_errors if ex.dialect == "openai" else anthropic_errors
        if ex.status == 0:
            await ex.respond(exc.status, errors.error_body(exc, ex.request_id), exc.headers())
        elif ex.streaming:
            await ex.chunk(errors.error_event(exc, ex.request_id))
            await ex.end_stream()

    def _meter(self, ex: Exchange, elapsed_ms: float) -> None:
        row = ledger_row(
            ex.record, datetime.now(UTC), ex.request_id, ex.status, elapsed_ms, self._known_model
        )
        if row is not None:
            self.ledger.record(row)

    def _known_model(self, name: str) -> bool:
        return self.gateway.catalog.resolve(name) is not None

    def _access(self, ex: Exchange, path: str, elapsed_ms: float) -> None:
        self.metrics.observe(ex.status, elapsed_ms / 1000, ex.record)
        access_log(access_fields(ex.record, ex.request_id, ex.method, path, ex.status, elapsed_ms))


def create_app(config: Config, master_key: str) -> App:
    return App(config, master_key)
