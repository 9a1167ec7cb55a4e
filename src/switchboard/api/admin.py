"""`/admin/...`: manage database keys and read the usage ledger, with the master key only.

POST   /admin/keys              create; the reply holds the secret, shown this once
GET    /admin/keys              list
GET    /admin/keys/{id}         show
PATCH  /admin/keys/{id}         change name or limits (null clears a limit)
DELETE /admin/keys/{id}         revoke
POST   /admin/keys/{id}/rotate  new secret, same id and limits
POST   /admin/teams             create a team (name and limits)
GET    /admin/teams             list, each with its number of keys
GET    /admin/teams/{id}        show (by id or name)
PATCH  /admin/teams/{id}        change name or limits (null clears a limit)
DELETE /admin/teams/{id}        delete; 409 while it has keys, unless ?force=true (detaches them)
GET    /admin/usage             ?key=&team=&model=&since=&until=&limit=
                                &group_by=day|key|model|session|team
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from switchboard.api.exchange import Exchange
from switchboard.errors import InvalidRequest, NotFound, PermissionDenied
from switchboard.storage import GROUPS, Ledger, UsageFilter
from switchboard.tenancy.admin import KeyAdmin, parse_time
from switchboard.tenancy.auth import Authenticator

MAX_ROWS = 100_000  # rows of /admin/usage in one reply


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


async def _object(ex: Exchange) -> dict[str, Any]:
    body = await ex.body(1024 * 1024)
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("body: must be a JSON object")
    return data


def usage_filter(params: dict[str, str]) -> UsageFilter:
    return UsageFilter(
        key_id=params.get("key") or None,
        team_id=params.get("team") or None,
        model=params.get("model") or None,
        since=parse_time("since", params["since"]) if params.get("since") else None,
        until=parse_time("until", params["until"]) if params.get("until") else None,
    )


class AdminHandler:
    def __init__(self, auth: Authenticator, keys: KeyAdmin, ledger: Ledger) -> None:
        self._auth = auth
        self._keys = keys
        self._ledger = ledger

    async def __call__(self, ex: Exchange) -> None:
        h = ex.headers
        principal = await self._auth.authenticate(h.get("x-api-key"), h.get("authorization"))
        if not principal.is_master:
            raise PermissionDenied("x-api-key: the admin API takes only the master key")
        parts = ex.path.strip("/").split("/")[1:]
        match (ex.method, parts):
            case ("POST", ["keys"]):
                key, secret = await self._keys.create(await _object(ex))
                await ex.respond(201, _json({**key.public(), "key": secret}))
            case ("GET", ["keys"]):
                keys = await self._keys.list()
                await ex.respond(200, _json({"data": [k.public() for k in keys]}))
            case ("GET", ["keys", key_id]):
                await ex.respond(200, _json((await self._keys.get(key_id)).public()))
            case ("PATCH", ["keys", key_id]):
                key = await self._keys.update(key_id, await _object(ex))
                await ex.respond(200, _json(key.public()))
            case ("DELETE", ["keys", key_id]):
                await ex.respond(200, _json((await self._keys.revoke(key_id)).public()))
            case ("POST", ["keys", key_id, "rotate"]):
                key, secret = await self._keys.rotate(key_id)
                await ex.respond(200, _json({**key.public(), "key": secret}))
            case (_, ["teams", *rest]):
                await self._team(ex, rest)
            case ("GET", ["usage"]):
                await ex.respond(200, _json({"data": await self._usage(ex)}))
            case _:
                raise NotFound(f"no route for {ex.method} {ex.path}")

    async def _team(self, ex: Exchange, rest: list[str]) -> None:
        teams = self._keys.teams
        if teams is None:
            raise NotFound("teams: this gateway keeps no teams")
        match (ex.method, rest):
            case ("POST", []):
                team = await teams.create(await _object(ex))
                await ex.respond(201, _json(team.public(0)))
            case ("GET", []):
                found = await teams.list()
                await ex.respond(200, _json({"data": [t.public(n) for t, n in found]}))
            case ("GET", [team_id]):
                await ex.respond(200, _json(await teams.show(team_id)))
            case ("PATCH", [team_id]):
                await ex.respond(200, _json(await teams.update(team_id, await _object(ex))))
            case ("DELETE", [team_id]):
                force = dict(parse_qsl(ex.query)).get("force", "false")
                if force not in ("true", "false"):
                    raise InvalidRequest("force: must be true or false", param="force")
                await ex.respond(200, _json(await teams.delete(team_id, force == "true")))
            case _:
                raise NotFound(f"no route for {ex.method} {ex.path}")

    async def _usage(self, ex: Exchange) -> list[dict[str, Any]]:
        params = dict(parse_qsl(ex.query))
        f = usage_filter(params)
        group = params.get("group_by")
        if group is None:
            return await self._ledger.rows(f, _limit(params.get("limit", "1000")))
        if group not in GROUPS:
            raise InvalidRequest(f"group_by: must be one of {', '.join(GROUPS)}", param="group_by")
        return await self._ledger.report(f, GROUPS[group])


def _limit(text: str) -> int:
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_ROWS):
        raise InvalidRequest(f"limit: must be a whole number from 0 to {MAX_ROWS}", param="limit")
    return int(text)
