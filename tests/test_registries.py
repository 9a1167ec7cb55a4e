"""The registries: every provider kind has one factory, each surface's routes are in the app's
route table with its envelope, pass-through is chosen for exactly the (surface, kind) pairs the
surfaces declare, and a surface registered by a test alone is served (no app.py edit)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from msgspec.structs import replace

from switchboard import ir
from switchboard.api.exchange import Exchange
from switchboard.api.http11 import Connection
from switchboard.api.surface import Parts, Route, Surface
from switchboard.api.surfaces import SURFACES
from switchboard.app import App, create_app
from switchboard.catalog import _builtin, embedded_default
from switchboard.config import Config, ConfigError, parse_config
from switchboard.errors import GatewayError
from switchboard.kinds import EMBEDDING_KINDS, Dialect, Endpoint, ProviderKind
from switchboard.pipeline import Inbound, Inlet
from switchboard.upstreams.registry import UPSTREAMS
from tests.support.gateway import free_port
from tests.support.gemini_wire import service_account

KEY = "sk-master-registries"

# Which provider kinds each surface relays as-is: the only pairs that pass through.
# (The Bedrock and Vertex surfaces speak the Anthropic dialect in their platforms' framing.)
PASSTHROUGH = {
    ("anthropic", ProviderKind.ANTHROPIC),
    ("openai", ProviderKind.OPENAI),
    ("bedrock", ProviderKind.ANTHROPIC),
    ("vertex", ProviderKind.ANTHROPIC),
}


def _config(tmp_path: Path) -> Config:
    data = {
        "master_key": KEY,
        "database": f"sqlite:///{tmp_path / 'sb.db'}",
        "providers": [{"name": "demo", "kind": "scripted"}],
        "models": [{"id": "demo", "channels": [{"provider": "demo", "model": "echo"}]}],
    }
    return parse_config(data, "test", env={})


def test_every_provider_kind_has_exactly_one_factory() -> None:
    assert set(UPSTREAMS) == set(ProviderKind)
    builtin = {ProviderKind(p["kind"]) for p in _builtin()["providers"]}
    assert builtin <= set(UPSTREAMS)


def test_the_builtin_catalogue_builds_with_every_provider(tmp_path: Path) -> None:
    env = {p["env"]: "k" for p in _builtin()["providers"]}
    # Vertex AI: its variable names a credentials file, and it needs a project id too.
    credentials = service_account(tmp_path / "sa.json", "http://127.0.0.1:9/token")
    env |= {"GOOGLE_APPLICATION_CREDENTIALS": str(credentials), "VERTEX_PROJECT": "p"}
    env |= {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "k"}  # Bedrock: region + the chain
    config = embedded_default(env)
    app = create_app(config, KEY)
    kinds = {c.provider.kind for e in app.gateway.catalog.models() for c in e.channels}
    assert kinds == set(ProviderKind)


def test_the_config_knows_which_kinds_embed(tmp_path: Path) -> None:
    # Every registered factory is built, whatever the catalogue holds.
    app = create_app(_config(tmp_path), KEY)
    assert set(app.gateway._embeds) == EMBEDDING_KINDS


def test_an_embeddings_model_on_a_kind_that_cannot_embed_is_refused(tmp_path: Path) -> None:
    data = {
        "master_key": KEY,
        "providers": [{"name": "demo", "kind": "scripted"}],
        "models": [
            {
                "id": "e",
                "endpoints": ["embeddings"],
                "channels": [{"provider": "demo", "model": "x"}],
            }
        ],
    }
    with pytest.raises(ConfigError, match=r"models\[0\]\.channels\[0\]\.provider"):
        parse_config(data, "test", env={})


def test_each_surface_route_resolves_to_its_envelope(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path), KEY)
    assert [s.dialect for s in SURFACES] == [
        "anthropic",
        "openai",
        "openai_responses",
        "bedrock",
        "vertex",
    ]
    shared = {("GET", "/v1/models")}
    for surface in SURFACES:
        assert app.surfaces[surface.dialect] is surface
        for route in surface.routes:
            for prefix in route.prefixes or surface.prefixes:
                path = prefix + route.path
                assert (route.method, path) in app.routes
                assert (path in app.metered) == route.metered
                if (route.method, path) not in shared:
                    assert app.dialects[path] == surface.dialect, path
        for suffix in surface.suffix_routes:
            for prefix in suffix.prefixes or surface.prefixes:
                assert (suffix.method, prefix + suffix.path) in {
                    (m, p) for m, p, _, _ in app.suffix_routes
                }
                # What a suffix route does not match still answers in its surface's envelope.
                assert app._by_prefix(prefix + suffix.path + "x") == surface.dialect


def test_paths_under_a_surface_prefix_answer_in_its_envelope(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path), KEY)
    assert app._by_prefix("/openai/v1/nope") == "openai"
    assert app._by_prefix("/anthropic/v1/nope") == "anthropic"
    assert app._by_prefix("/nope") == "anthropic"  # the first surface's
    assert app._by_prefix("/model/m/nope") == "bedrock"
    assert app._by_prefix("/v1/projects/p/nope") == "vertex"
    assert app._by_prefix("/v1/nope") == "anthropic"  # not Vertex's: only /v1/projects/ is


def test_metered_suffix_routes(tmp_path: Path) -> None:
    app = create_app(_config(tmp_path), KEY)
    assert app._metered("/model/us.anthropic.claude-x-v1:0/invoke")
    assert app._metered("/bedrock/model/claude-x/invoke-with-response-stream")
    models = "/v1/projects/p/locations/l/publishers/anthropic/models/"
    assert app._metered(models + "claude-x@1:streamRawPredict")
    assert not app._metered(models + "count-tokens:rawPredict")
    assert not app._metered("/v1/messages/count_tokens")
    assert app._metered("/v1/embeddings")


def _inbound(inlet: Inlet) -> Inbound:
    def decode() -> ir.Request:
        raise AssertionError("not decoded")

    return Inbound(inlet=inlet, body=b"{}", model="m", stream=False, headers={}, decode=decode)


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
@pytest.mark.parametrize("kind", list(ProviderKind))
def test_pass_through_for_exactly_the_declared_pairs(
    surface: Surface, kind: ProviderKind, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    # Never called: only the choice between relaying and translating is looked at.
    provider = replace(config.providers[0], kind=kind, base_url="http://127.0.0.1:9")
    app = create_app(replace(config, providers=[provider]), KEY)
    channel = app.gateway.catalog.models()[0].channels[0]
    assert channel.provider.kind is kind
    relayed = app.gateway._passthrough(_inbound(surface.inlet), channel)
    assert relayed == ((surface.name, kind) in PASSTHROUGH)


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
@pytest.mark.parametrize(
    "model", ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.amazon.nova-pro-v1:0"]
)
def test_bedrock_relays_claude_to_anthropic_clients_only(
    surface: Surface, model: str, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    provider = replace(config.providers[0], kind=ProviderKind.BEDROCK, region="us-east-1")
    channels = [replace(config.models[0].channels[0], model=model)]
    models = [replace(config.models[0], channels=channels)]
    app = create_app(replace(config, providers=[provider], models=models), KEY)
    channel = app.gateway.catalog.models()[0].channels[0]
    relayed = app.gateway._passthrough(_inbound(surface.inlet), channel)
    anthropic_dialect = surface.name in {"anthropic", "bedrock", "vertex"}
    assert relayed == (anthropic_dialect and "anthropic." in model)


def test_a_surface_relaying_a_kind_that_cannot_relay_is_refused_at_start(tmp_path: Path) -> None:
    wrong = Surface(
        name="wrong",
        dialect=Dialect("wrong"),
        inlet=Inlet(Endpoint.OPENAI, relays=frozenset({ProviderKind.SCRIPTED})),
        prefixes=("/wrong",),
        routes=(),
        error_body=lambda exc, rid: b"",
        error_event=lambda exc, rid: b"",
    )
    with pytest.raises(ValueError, match="scripted"):
        create_app(_config(tmp_path), KEY, surfaces=(*SURFACES, wrong))


# -- a surface registered by a test alone ------------------------------------------------------


def _echo_error(exc: GatewayError, request_id: str) -> bytes:
    return orjson.dumps({"echo_error": exc.error_type, "message": exc.message, "id": request_id})


class Ping:
    def __init__(self, parts: Parts) -> None:
        self._auth = parts.auth

    async def __call__(self, ex: Exchange) -> None:
        await self._auth.authenticate(None, ex.headers.get("authorization"))
        await ex.respond(200, b'{"pong":true}')


ECHO = Surface(
    name="echo",
    dialect=Dialect("echo"),
    inlet=Inlet(Endpoint.OPENAI),
    prefixes=("/echo",),
    routes=(Route("GET", "/v1/ping", Ping),),
    error_body=_echo_error,
    error_event=_echo_error,
)


@pytest.fixture
def echo_app(tmp_path: Path) -> Iterator[int]:
    """The app with one more surface, served in this process on loopback (a surface cannot be
    handed to a gateway in another process)."""
    app: App = create_app(_config(tmp_path), KEY, surfaces=(*SURFACES, ECHO))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            http=Connection,
            lifespan="on",
            proxy_headers=False,  # as serve runs it: no middleware around the app
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the app did not start"
        assert time.monotonic() < deadline, "the app did not start in time"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _get(port: int, method: str, path: str, key: str | None = KEY) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        conn.request(method, path, headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


@pytest.mark.e2e
def test_a_registered_surface_is_served_with_its_envelope(echo_app: int) -> None:
    assert _get(echo_app, "GET", "/echo/v1/ping") == (200, {"pong": True})
    status, body = _get(echo_app, "GET", "/echo/v1/ping", key=None)
    assert (status, body["echo_error"]) == (401, "authentication_error")
    status, body = _get(echo_app, "GET", "/echo/v1/nope")
    assert (status, body["echo_error"]) == (404, "not_found_error")
    status, body = _get(echo_app, "POST", "/echo/v1/ping")
    assert (status, body["echo_error"]) == (400, "invalid_request_error")
    # The built-in surfaces are unchanged beside it.
    status, body = _get(echo_app, "GET", "/v1/nope")
    assert (status, body["type"], body["error"]["type"]) == (404, "error", "not_found_error")
    status, body = _get(echo_app, "GET", "/openai/v1/nope")
    assert (status, list(body)) == (404, ["error"])  # the OpenAI envelope
