"""create_app(config): routes, the error boundary, the lifespan. The only composition root."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

from switchboard.api.admin import AdminHandler
from switchboard.api.admin_channels import ChannelsHandler
from switchboard.api.admin_views import AdminViewsHandler
from switchboard.api.admin_views import handles as admin_views_handles
from switchboard.api.bounds import Bounds
from switchboard.api.exchange import Exchange
from switchboard.api.health import Health
from switchboard.api.inflight import InFlight
from switchboard.api.metrics import MetricsHandler
from switchboard.api.surface import Handler, Parts, SuffixHandler, Surface
from switchboard.api.surfaces import SURFACES
from switchboard.batches.principals import Principals
from switchboard.batches.runtime import Batches
from switchboard.capture.recorder import Capturer
from switchboard.catalog import Catalog
from switchboard.config import Config
from switchboard.console import Console
from switchboard.errors import (
    ApiError,
    GatewayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    release,
)
from switchboard.kinds import Dialect, ProviderKind
from switchboard.log import access_fields, access_log, use_redactor
from switchboard.log import events as log
from switchboard.metrics import Metrics
from switchboard.operations import Operations
from switchboard.record import RequestRecord
from switchboard.redact import Redactor
from switchboard.routes import Routes
from switchboard.service import Gateway
from switchboard.signing import ThinkingSigner
from switchboard.storage.activity import Activity
from switchboard.storage.batches import BatchStore
from switchboard.storage.captures import CaptureStore
from switchboard.storage.files import FileStore
from switchboard.tenancy.auth import Authenticator
from switchboard.tenancy.runtime import Tenancy
from switchboard.tenancy.usage import ledger_row
from switchboard.tracing import start_tracing
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.registry import UPSTREAMS, Factory

# The lifespan's side of ASGI, which is all of ASGI the app still speaks.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Not requests to count or log: probes and scrapes.
UNLOGGED = frozenset({"/health", "/metrics"})
# How long shutdown waits for the requests it cancelled to end (they only settle and write).
SHUTDOWN_WAIT = 5.0


class App:
    """The routes, one error boundary, and the lifespan."""

    def __init__(
        self,
        config: Config,
        master_key: str,
        *,
        surfaces: Sequence[Surface] = SURFACES,
        upstreams: Mapping[ProviderKind, Factory] = UPSTREAMS,
    ) -> None:
        self.config = config
        # Upstream text reaching a client or a log passes it; built once, from this config.
        self.redactor = Redactor.of(config, master_key)
        use_redactor(self.redactor.text)
        self.tracing = start_tracing(config.telemetry, self.redactor.text)
        trace_context = self.tracing.upstream_headers if self.tracing.enabled else None
        self.http = HttpClient(
            self.redactor,
            config.upstreams,
            trace_context=trace_context,
            capturing=config.capture.enabled,
        )
        signer = ThinkingSigner.from_master_key(master_key)
        self.tenancy = Tenancy(config)
        self.gateway = Gateway(
            Catalog(config),
            self.http,
            signer,
            self.tenancy.admission,
            config.documents,
            config.routing,
            upstreams,
            config.search,
            routes=Routes.of(config.routes),
            tracing=self.tracing,
        )
        self.capturer = None
        captures = None
        if config.capture.enabled:
            captures = CaptureStore(self.tenancy.storage.engine)
            self.capturer = Capturer(config.capture, self.redactor.text, captures)
        self.in_flight = InFlight()
        self.ledger = self.tenancy.ledger
        self.metrics = Metrics(self.gateway.router, self.in_flight.counts, self.ledger)
        auth = Authenticator(master_key, config, self.tenancy.keys)
        self.admin = AdminHandler(auth, self.tenancy.admin, self.tenancy.storage.ledger)
        # What the operator sees and does, for the admin API and the console alike.
        ops = Operations(
            self.tenancy.admin,
            self.tenancy.storage.ledger,
            Activity(self.tenancy.storage.engine),
            self.gateway.router,
            self.gateway.catalog,
            self.in_flight,
            captures=captures,
        )
        self.admin_views = AdminViewsHandler(auth, ops)
        # Batches run on the same pipeline, as their keys, by a worker in this process.
        self.batches = Batches(
            config.batches,
            BatchStore(self.tenancy.storage.engine),
            FileStore(self.tenancy.storage.engine),
            self.gateway,
            Principals(config, self.tenancy.storage.keys),
            self.ledger,
            {s.batch_api.name: s.batch_api for s in surfaces if s.batch_api is not None},
            self.finished,
        )
        self.console = Console(auth, ops, master_key)
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): Health(lambda: self.ledger.accepting),
            ("GET", "/metrics"): MetricsHandler(self.metrics),
            ("GET", "/admin/channels"): ChannelsHandler(self.gateway.router, auth),
            ("GET", "/"): self.console.home,
        }
        self.suffix_routes: list[tuple[str, str, SuffixHandler, Dialect]] = []
        self.metered: set[str] = set()  # paths whose requests go in the usage ledger
        self.metered_under: list[tuple[str, Callable[[str], bool]]] = []  # and suffix routes'
        # Whose envelope a failure is answered in: by the path's surface (a dict lookup), else
        # by its prefix, else the first surface's.
        self.surfaces: dict[Dialect, Surface] = {}
        self.dialects: dict[str, Dialect] = {}
        self.prefixes: list[tuple[str, Dialect]] = []
        self._mount(
            surfaces,
            Parts(
                self.gateway,
                auth,
                Bounds.of(config.server),
                config,
                self.tenancy.storage,
                self.batches,
            ),
        )

    def _mount(self, surfaces: Sequence[Surface], parts: Parts) -> None:
        """Every surface's routes in the route table. A path two surfaces claim (the bare
        `GET /v1/models`) goes to the one whose `claims` takes the request's headers, else to
        the one without `claims`."""
        self.default = surfaces[0]
        claimed: dict[tuple[str, str], list[tuple[Surface, Handler]]] = {}
        owners: dict[str, set[Dialect]] = {}
        for surface in surfaces:
            self.gateway.check_relays(surface.inlet)
            self.surfaces[surface.dialect] = surface
            self.prefixes += [(p + "/", surface.dialect) for p in surface.prefixes if p]
            for route in surface.routes:
                handler = route.handler(parts)
                for prefix in route.prefixes or surface.prefixes:
                    path = prefix + route.path
                    claimed.setdefault((route.method, path), []).append((surface, handler))
                    owners.setdefault(path, set()).add(surface.dialect)
                    if route.metered:
                        self.metered.add(path)
            for suffix in surface.suffix_routes:
                retrieve = suffix.handler(parts)
                for prefix in suffix.prefixes or surface.prefixes:
                    under = prefix + suffix.path
                    self.suffix_routes.append((suffix.method, under, retrieve, surface.dialect))
                    self.prefixes.append((under, surface.dialect))
                    if suffix.metered is not None:
                        self.metered_under.append((under, suffix.metered))
        # The longest prefix decides: `/openai/responses/` is the Responses surface's, though
        # `/openai/` (the chat surface's) was registered before it.
        self.prefixes.sort(key=lambda entry: len(entry[0]), reverse=True)
        for (method, path), claimants in claimed.items():
            self.routes[(method, path)] = _dispatch(path, claimants)
        for path in {p for _, p in self.routes}:
            only = owners.get(path, set())
            self.dialects[path] = only.pop() if len(only) == 1 else self._by_prefix(path)

    def _by_prefix(self, path: str) -> Dialect:
        for prefix, dialect in self.prefixes:
            if path.startswith(prefix):
                return dialect
        return self.default.dialect

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
                if self.capturer is not None:
                    self.capturer.start()
                self.batches.start()
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
                await self.batches.stop()  # what it runs is put back for the next process
                await self.http.close()
                if self.capturer is not None:
                    await self.capturer.stop()
                await self.tenancy.stop()  # flushes the usage ledger
                await self.tracing.close()  # exports the last spans
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _metered(self, path: str) -> bool:
        if path in self.metered:
            return True
        return any(
            path.startswith(under) and metered(path.removeprefix(under))
            for under, metered in self.metered_under
        )

    async def serve(self, ex: Exchange) -> None:
        path = ex.path.rstrip("/") or "/"
        metered = self._metered(path)
        # HEAD is GET without the body (load balancers probe with it); the exchange drops it.
        method = "GET" if ex.head_only else ex.method
        handler = self.routes.get((method, path))
        dialect = self.dialects.get(path)
        ex.dialect = self._by_prefix(path) if dialect is None else dialect
        if handler is None and path.startswith("/admin/"):
            handler = self.admin_views if admin_views_handles(path) else self.admin
        elif handler is None and (path == "/console" or path.startswith("/console/")):
            handler = self.console
        self.in_flight.add(ex)
        traced = None
        if self.tracing.enabled and path in self.metered:
            traced = self.tracing.request(ex.headers, path)
        captured = None
        capturer = self.capturer
        if capturer is not None and path in self.metered:
            captured = capturer.begin(ex.headers)
            ex.capture = captured[0]
        try:
            if not self.ledger.accepting and metered:
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
                if metered:
                    self._meter(ex, elapsed)
            if traced is not None:
                self.tracing.finish(traced, ex.record, ex.status)
            if captured is not None and capturer is not None:
                capturer.end(*captured, ex.record, ex.request_id, ex.status)

    async def _suffix_route(self, ex: Exchange, method: str, path: str) -> None:
        for allowed, prefix, handler, dialect in self.suffix_routes:
            if path.startswith(prefix) and len(path) > len(prefix) and method == allowed:
                ex.dialect = dialect  # a bare path's failures too, in the surface's envelope
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
        errors = self.surfaces.get(ex.dialect, self.default)
        if ex.status == 0:
            headers = exc.headers()
            if errors.error_headers is not None:
                headers = [*headers, *errors.error_headers(exc, ex.request_id)]
            await ex.respond(exc.status, errors.error_body(exc, ex.request_id), headers)
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
        self.finished(ex.record, ex.request_id, ex.method, path, ex.status, elapsed_ms)

    def finished(
        self,
        record: RequestRecord,
        request_id: str,
        method: str,
        path: str,
        status: int,
        elapsed_ms: float,
    ) -> None:
        """A request ended (online, or a batch's, run by the worker): its metrics and its
        access line, each from its record."""
        self.metrics.observe(status, elapsed_ms / 1000, record)
        access_log(access_fields(record, request_id, method, path, status, elapsed_ms))


def _dispatch(path: str, claimants: list[tuple[Surface, Handler]]) -> Handler:
    """The handler of a route: its one surface's, or, on a path surfaces share, the first whose
    `claims` takes the request's headers, else the one without `claims`."""
    if len(claimants) == 1:
        return claimants[0][1]
    claims = [(s.claims, h) for s, h in claimants if s.claims is not None]
    rest = [h for s, h in claimants if s.claims is None]
    if len(rest) != 1:
        raise ValueError(f"{path}: of the surfaces sharing it, exactly one must have no `claims`")
    fallback = rest[0]

    async def dispatch(ex: Exchange) -> None:
        for claim, handler in claims:
            if claim(ex.headers):
                await handler(ex)
                return
        await fallback(ex)

    return dispatch


def create_app(
    config: Config,
    master_key: str,
    *,
    surfaces: Sequence[Surface] = SURFACES,
    upstreams: Mapping[ProviderKind, Factory] = UPSTREAMS,
) -> App:
    return App(config, master_key, surfaces=surfaces, upstreams=upstreams)
