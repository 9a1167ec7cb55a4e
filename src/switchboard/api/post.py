"""What each handler of a pipeline request (a POST with a body) holds, and how it opens: the key
checked, then the body read within the bounds."""

from __future__ import annotations

from switchboard.api.bounds import Bounds
from switchboard.api.exchange import Exchange
from switchboard.api.identity import authenticate
from switchboard.service import Gateway
from switchboard.tenancy.auth import Authenticator, Principal


async def read_body(
    ex: Exchange, auth: Authenticator, bounds: Bounds, *, key_header: str | None = "x-api-key"
) -> tuple[Principal, bytes]:
    """The caller (its key from `key_header` or Authorization: api/identity.py), then the body:
    an unknown key is refused before the body is read."""
    principal = await authenticate(ex, auth, key_header=key_header)
    return principal, await bounds.body(ex)


class PostHandler:
    """The gateway, the keys, and the bounds a body is read within."""

    def __init__(self, gateway: Gateway, auth: Authenticator, bounds: Bounds) -> None:
        self._gateway = gateway
        self._auth = auth
        self._bounds = bounds
