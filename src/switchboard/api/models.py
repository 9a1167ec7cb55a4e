"""`GET /v1/models` and `GET /v1/models/{id}` (also under `/anthropic`), Anthropic shape."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

import orjson

from switchboard.api.exchange import Exchange
from switchboard.dialects.anthropic.models import model_info, page
from switchboard.discovery import Published
from switchboard.errors import InvalidRequest, NotFound
from switchboard.kinds import Endpoint
from switchboard.service import Gateway
from switchboard.tenancy.auth import Authenticator


class ModelsHandler:
    def __init__(self, gateway: Gateway, auth: Authenticator) -> None:
        # The catalogue's models, and the names published for discovery (discovery.py).
        self._published = Published(gateway.catalog, gateway.routes, Endpoint.ANTHROPIC)
        self._profiles = self._published.profiles()
        self._catalog = gateway.catalog
        self._auth = auth

    async def _authenticate(self, ex: Exchange) -> None:
        h = ex.headers
        principal = await self._auth.authenticate(h.get("x-api-key"), h.get("authorization"))
        ex.record.key_name = principal.name

    async def list(self, ex: Exchange) -> None:
        await self._authenticate(ex)
        query = parse_qs(ex.query)
        raw_limit = query.get("limit", ["20"])[-1]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise InvalidRequest("limit: must be an integer from 1 to 1000", param="limit")
        body = page(
            self._profiles,
            limit=int(raw_limit),
            after_id=query.get("after_id", [None])[-1],
            before_id=query.get("before_id", [None])[-1],
        )
        await ex.respond(200, body)

    async def retrieve(self, ex: Exchange, model_id: str) -> None:
        await self._authenticate(ex)
        name = unquote(model_id)
        profile = self._published.find(name)
        if profile is None:
            entry = self._catalog.resolve(name)
            if entry is None or Endpoint.ANTHROPIC not in entry.profile.endpoints:
                raise NotFound(f"model: {name}", param="model")
            profile = entry.profile
        await ex.respond(200, orjson.dumps(model_info(profile)))
