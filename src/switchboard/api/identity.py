"""Who a request is from: its key, checked, and written into the request's record."""

from __future__ import annotations

from switchboard.api.exchange import Exchange
from switchboard.tenancy.auth import Authenticator, Principal


async def authenticate(
    ex: Exchange, auth: Authenticator, *, key_header: str | None = "x-api-key"
) -> Principal:
    """The key from `key_header` (Anthropic's `x-api-key`; None for OpenAI clients, which send
    only `Authorization: Bearer`) or the Authorization header."""
    h = ex.headers
    principal = await auth.authenticate(
        h.get(key_header) if key_header else None, h.get("authorization")
    )
    ex.record.key_name = principal.name
    ex.record.key_id = principal.key_id
    ex.record.team_id = principal.team_id
    return principal
