"""An inbound surface: one object naming what the app needs to serve a client API. Its routes
(each a handler factory), the dialect its clients speak, its error envelope and stream error
event, and its `Inlet` (the endpoint its models are offered on, the provider kinds it relays
as-is). Its decoder, encoder and stream encoder are the dialect's (dialects/<name>/), used by
the handlers its routes build.

A new surface: a package (its handlers, ending in a `SURFACE`) and its wire format under
dialects/, then one line in api/surfaces.py. app.py builds the routes from the registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from switchboard.api.bounds import Bounds
from switchboard.api.exchange import Exchange
from switchboard.batches.dialect import BatchApi
from switchboard.batches.runtime import Batches
from switchboard.config import Config
from switchboard.errors import GatewayError
from switchboard.kinds import Dialect
from switchboard.pipeline import Inlet
from switchboard.service import Gateway
from switchboard.storage import Storage
from switchboard.tenancy.auth import Authenticator

Handler = Callable[[Exchange], Awaitable[None]]
# Routes whose last segment is a parameter that may itself hold slashes (model ids do).
SuffixHandler = Callable[[Exchange, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Parts:
    """What handlers are built from (create_app makes one)."""

    gateway: Gateway
    auth: Authenticator
    bounds: Bounds
    config: Config
    storage: Storage  # for surfaces that keep state (stored responses)
    batches: Batches


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # under each of the surface's prefixes
    handler: Callable[[Parts], Handler]
    metered: bool = False  # its requests go in the usage ledger
    prefixes: tuple[str, ...] | None = None  # None: the surface's


@dataclass(frozen=True, slots=True)
class SuffixRoute:
    """`{method} {prefix}{path}{rest}`: the handler gets the rest of the path. Paths under
    one are answered in its surface's envelope."""

    method: str
    path: str
    handler: Callable[[Parts], SuffixHandler]
    # Whether a request to this rest of the path goes in the usage ledger (None: none does).
    metered: Callable[[str], bool] | None = None
    prefixes: tuple[str, ...] | None = None  # None: the surface's


@dataclass(frozen=True, slots=True)
class Surface:
    name: str
    dialect: Dialect
    inlet: Inlet
    # Each route is served under each of these ("" for the bare path): a path under a non-empty
    # one that matches no route is still answered in this surface's envelope.
    prefixes: tuple[str, ...]
    routes: tuple[Route, ...]
    error_body: Callable[[GatewayError, str], bytes]  # (error, request id) -> response body
    error_event: Callable[[GatewayError, str], bytes]  # the same, as a stream's last event
    # Headers the envelope adds to an error response (Bedrock's x-amzn-errortype).
    error_headers: Callable[[GatewayError, str], list[tuple[bytes, bytes]]] | None = None
    suffix_routes: tuple[SuffixRoute, ...] = ()
    # On a path two surfaces share, whether a request is this surface's, from its headers
    # (None: the surface that takes the rest).
    claims: Callable[[Mapping[str, str]], bool] | None = None
    # Its batch API (batches/), if it has one: what the batch worker runs its requests by.
    batch_api: BatchApi | None = None
