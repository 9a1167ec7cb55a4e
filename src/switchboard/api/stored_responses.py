"""`GET /v1/responses/{response_id}`, `GET /v1/responses/{response_id}/input_items` and `DELETE
/v1/responses/{response_id}` (also under `/openai`, with or without `/v1`): a stored response
(storage/responses.py) read back as it was served, its input items listed, or deleted, which
makes it gone for `previous_response_id` too (docs/responses.md).

Only the key that made a response sees it: another key's response gets the 404 an unknown id
gets, word for word. The id's shape is checked before it reaches SQL or a message."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from switchboard.api.exchange import Exchange
from switchboard.api.identity import authenticate
from switchboard.config import Responses
from switchboard.dialects.openai_responses.input_items import input_items_list, page_of
from switchboard.dialects.openai_responses.response import deleted
from switchboard.errors import InvalidRequest, NotFound
from switchboard.storage.responses import ResponseStore, StoredResponse
from switchboard.tenancy.auth import Authenticator

# The gateway's ids (`resp_` and 40 base-62 characters) and OpenAI's fit in it; the column
# holds 64.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

Read = Callable[[Exchange, StoredResponse], Awaitable[None]]


class StoredResponsesHandler:
    def __init__(self, auth: Authenticator, settings: Responses, store: ResponseStore) -> None:
        self._auth = auth
        self._settings = settings
        self._store = store
        # What may follow `{response_id}/` in a GET's path ("": nothing).
        self._reads: dict[str, Read] = {"": self._response, "input_items": self._input_items}

    async def get(self, ex: Exchange, rest: str) -> None:
        """`{response_id}` or `{response_id}/input_items`."""
        principal = await authenticate(ex, self._auth, key_header=None)
        response_id, _, part = rest.partition("/")
        read = self._reads.get(part)
        if read is None:
            raise NotFound("no route: under /v1/responses/{response_id}/ there is input_items")
        self._check(response_id)
        found = await self._store.get(response_id, principal.key_id)
        if found is None:
            raise _not_found(response_id)
        await read(ex, found)

    async def delete(self, ex: Exchange, rest: str) -> None:
        """`{response_id}`."""
        principal = await authenticate(ex, self._auth, key_header=None)
        if "/" in rest:
            raise NotFound("no route: DELETE takes /v1/responses/{response_id}")
        self._check(rest)
        if not await self._store.delete(rest, principal.key_id):
            raise _not_found(rest)
        await ex.respond(200, orjson.dumps(deleted(rest)))

    def _check(self, response_id: str) -> None:
        if not _ID.fullmatch(response_id):
            raise InvalidRequest(
                "response_id: must be 1 to 64 letters, digits, '_' or '-' (a response id "
                "looks like resp_...)",
                param="response_id",
            )
        if not self._settings.store:
            # A 400, not a 404: no id could be found here, and the client's request (not the
            # id) is what cannot be served; the same answer as `previous_response_id` gets.
            raise InvalidRequest(
                "response_id: this gateway does not store responses (the operator can enable "
                "responses.store), so there are none to read or delete",
                param="response_id",
            )

    async def _response(self, ex: Exchange, found: StoredResponse) -> None:
        if parse_qs(ex.query).get("stream", ["false"])[-1] != "false":
            # OpenAI replays a background response's events; nothing here runs in the
            # background, and a JSON body where the client waits for events would be a lie.
            raise InvalidRequest(
                "stream: streaming a stored response back is not supported by this gateway",
                param="stream",
            )
        await ex.respond(200, orjson.dumps(_served(found)))

    async def _input_items(self, ex: Exchange, found: StoredResponse) -> None:
        page = page_of(ex.query)
        response = _served(found)
        given = found.conversation[: len(found.conversation) - len(response["output"])]
        await ex.respond(200, orjson.dumps(input_items_list(response["id"], given, page)))


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"response_id: no response '{response_id}' found", param="response_id")


def _served(found: StoredResponse) -> dict[str, Any]:
    if found.response is None:
        raise NotFound(
            "response_id: this response was stored before the gateway kept response objects; "
            "it can be continued with previous_response_id, not read back",
            param="response_id",
        )
    return found.response
