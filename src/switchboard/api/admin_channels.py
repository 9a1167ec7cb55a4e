"""`GET /admin/channels`: every channel and key with its health, for the operator (master key
only). Keys appear by position, never by value."""

from __future__ import annotations

import orjson

from switchboard.api.exchange import Exchange
from switchboard.errors import PermissionDenied
from switchboard.routing import Router
from switchboard.tenancy.auth import Authenticator


class ChannelsHandler:
    def __init__(self, router: Router, auth: Authenticator) -> None:
        self._router = router
        self._auth = auth

    async def __call__(self, ex: Exchange) -> None:
        h = ex.headers
        principal = await self._auth.authenticate(h.get("x-api-key"), h.get("authorization"))
        ex.record.key_name = principal.name
        if not principal.is_master:
            raise PermissionDenied("the admin API needs the master key")
        await ex.respond(200, orjson.dumps({"channels": self._router.snapshot()}))
