"""`/admin/...` for what the console shows, with the master key only (the console calls the
same `Operations` functions, so it reaches nothing this API does not also guard).

GET  /admin/overview         ?window=hour|day|30d&by=model|key|channel (+ the requests filters)
GET  /admin/inflight         the requests being served now
GET  /admin/requests         ?key=&model=&channel=&outcome=ok|error&since=&until=
                             &sort=at|latency|cost|tokens&offset=&limit= (at most 500)
GET  /admin/requests/{id}    one ledger row, by request id
GET  /admin/models           the catalogue as clients see it
POST /admin/channels/reset   {"channel": "provider/model", "key": 0}: back in service now
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from switchboard.api.exchange import Exchange
from switchboard.errors import InvalidRequest, NotFound, PermissionDenied
from switchboard.operations import (
    Operations,
    dimension,
    request_filter,
    sort_key,
    whole_number,
    window,
)
from switchboard.storage.activity import MAX_PAGE
from switchboard.tenancy.auth import Authenticator

PREFIXES = ("/admin/overview", "/admin/inflight", "/admin/requests", "/admin/models")
PATHS = frozenset({*PREFIXES, "/admin/channels/reset"})


def _json(value: Any) -> bytes:
    # Dataclasses and datetimes natively; ledger numbers as they are.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def handles(path: str) -> bool:
    return path in PATHS or path.startswith("/admin/requests/")


class AdminViewsHandler:
    def __init__(self, auth: Authenticator, ops: Operations) -> None:
        self._auth = auth
        self._ops = ops

    async def __call__(self, ex: Exchange) -> None:
        h = ex.headers
        principal = await self._auth.authenticate(h.get("x-api-key"), h.get("authorization"))
        ex.record.key_name = principal.name
        if not principal.is_master:
            raise PermissionDenied("x-api-key: the admin API takes only the master key")
        path = ex.path.rstrip("/")
        params = dict(parse_qsl(ex.query))
        ops = self._ops
        match (ex.method, path):
            case ("GET", "/admin/overview"):
                series = await ops.overview(
                    window(params.get("window")),
                    dimension(params.get("by")),
                    request_filter(params),
                )
                await ex.respond(200, _json(series))
            case ("GET", "/admin/inflight"):
                await ex.respond(200, _json({"data": ops.in_flight()}))
            case ("GET", "/admin/requests"):
                page = await ops.requests(
                    request_filter(params),
                    sort_key(params.get("sort")),
                    whole_number("offset", params.get("offset"), 0, 10**9),
                    whole_number("limit", params.get("limit"), 50, MAX_PAGE),
                )
                await ex.respond(200, _json(page))
            case ("GET", _) if path.startswith("/admin/requests/"):
                entry = await ops.request(path.removeprefix("/admin/requests/"))
                await ex.respond(200, _json(entry))
            case ("GET", "/admin/models"):
                await ex.respond(200, _json({"data": ops.models()}))
            case ("POST", "/admin/channels/reset"):
                body = await ex.body(64 * 1024)
                try:
                    data = orjson.loads(body or b"{}")
                except orjson.JSONDecodeError:
                    raise InvalidRequest("body: not valid JSON") from None
                channel = data.get("channel") if isinstance(data, dict) else None
                key = data.get("key", 0) if isinstance(data, dict) else None
                if not isinstance(channel, str):
                    raise InvalidRequest("channel: Field required", param="channel")
                if isinstance(key, bool) or not isinstance(key, int):
                    raise InvalidRequest("key: must be a whole number", param="key")
                await ex.respond(200, _json(ops.reset_channel(channel, key)))
            case _:
                raise NotFound(f"no route for {ex.method} {path}")
