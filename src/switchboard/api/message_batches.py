"""The Message Batches API (also under `/anthropic`): `POST /v1/messages/batches`, the list, and
under `/v1/messages/batches/{id}`: retrieve, `/cancel`, `DELETE`, `/results` (JSONL). A batch
is its key's: another key gets 404. The machinery is batches/; the shapes are
dialects/anthropic/batches.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from switchboard.api.bounds import Bounds
from switchboard.api.exchange import Exchange
from switchboard.api.surface import Parts, Route, SuffixRoute
from switchboard.batches.dialect import BatchApi
from switchboard.batches.runtime import Batches
from switchboard.dialects.anthropic.batches import (
    decode_create,
    deleted,
    message_batch,
    page,
    result_lines,
)
from switchboard.errors import InvalidRequest, NotFound
from switchboard.ids import batch_id
from switchboard.storage.batches import ENDED, BatchRow
from switchboard.tenancy.auth import Authenticator, Principal

API = "anthropic"
BASE = "/v1/messages/batches"
JSONL = b"application/x-jsonl"


def checked(api: BatchApi, items: list[tuple[str, bytes]], where: str, bounds: Bounds) -> None:
    """Every request judged; the first refusal names the request (`requests.3.params.model`)."""
    for i, (_, body) in enumerate(items):
        try:
            api.check(body, bounds)
        except InvalidRequest as exc:
            place = where.format(i)
            raise InvalidRequest(
                f"{place}.{exc.message}" if exc.param else f"{place}: {exc.message}",
                param=f"{place}.{exc.param}" if exc.param else place,
            ) from None


def state(row: BatchRow) -> dict[str, Any]:
    """What both APIs' batch objects are made of (dialects/*/batches.py)."""
    return {
        "batch_id": row.id,
        "status": row.status,
        "counts": row.counts,
        "total": row.total,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "ended_at": row.ended_at,
        "cancel_initiated_at": row.cancel_initiated_at,
    }


def describe(row: BatchRow) -> dict[str, object]:
    return message_batch(
        **state(row),
        # Relative: both SDKs join it to the base URL they were given (with its prefix),
        # whatever host or proxy the client reached the gateway by.
        results_url=f"{BASE}/{row.id}/results",
    )


class MessageBatchesHandler:
    def __init__(self, batches: Batches, auth: Authenticator, bounds: Bounds) -> None:
        self._batches = batches
        self._auth = auth
        self._bounds = bounds

    async def _principal(self, ex: Exchange) -> Principal:
        h = ex.headers
        principal = await self._auth.authenticate(h.get("x-api-key"), h.get("authorization"))
        ex.record.key_name = principal.name
        ex.record.key_id = principal.key_id
        return principal

    async def create(self, ex: Exchange) -> None:
        principal = await self._principal(ex)
        config = self._batches.config
        body = await ex.body(config.max_bytes, self._bounds.body_seconds)
        items = decode_create(body, config.max_requests)
        api = self._batches.apis[API]
        checked(api, items, "requests.{}.params", self._bounds)
        row = await self._batches.create(batch_id(), principal.key_id, API, items)
        await ex.respond(200, orjson.dumps(describe(row)))

    async def list(self, ex: Exchange) -> None:
        principal = await self._principal(ex)
        query = parse_qs(ex.query)
        raw_limit = query.get("limit", ["20"])[-1]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise InvalidRequest("limit: must be an integer from 1 to 1000", param="limit")
        rows, more = await self._batches.store.page(
            principal.key_id,
            API,
            int(raw_limit),
            query.get("after_id", [None])[-1],
            query.get("before_id", [None])[-1],
        )
        await ex.respond(200, page([describe(r) for r in rows], more))

    async def _batch(self, ex: Exchange, rest: str) -> tuple[Principal, BatchRow]:
        principal = await self._principal(ex)
        found = await self._batches.store.get(rest.split("/", 1)[0], principal.key_id)
        if found is None or found.api != API:
            raise NotFound("message_batch: no such batch for this key")
        return principal, found

    async def get(self, ex: Exchange, rest: str) -> None:
        """`{id}` or `{id}/results`."""
        _, row = await self._batch(ex, rest)
        part = rest.partition("/")[2]
        if part == "":
            await ex.respond(200, orjson.dumps(describe(row)))
        elif part == "results":
            if row.status != ENDED:
                raise InvalidRequest(f"batch {row.id} has not ended yet: its results are not ready")
            stored = await self._batches.store.results(row.id)
            lines = result_lines((r.custom_id, r.outcome, r.result) for r in stored)
            await ex.respond(200, lines, content_type=JSONL)
        else:
            raise NotFound(f"no route for GET {ex.path}")

    async def post(self, ex: Exchange, rest: str) -> None:
        """`{id}/cancel`."""
        if rest.partition("/")[2] != "cancel":
            raise NotFound(f"no route for POST {ex.path}")
        principal, row = await self._batch(ex, rest)
        canceled = await self._batches.cancel(row.id, principal.key_id)
        assert canceled is not None
        await ex.respond(200, orjson.dumps(describe(canceled)))

    async def delete(self, ex: Exchange, rest: str) -> None:
        if "/" in rest:
            raise NotFound(f"no route for DELETE {ex.path}")
        principal, row = await self._batch(ex, rest)
        if row.status != ENDED or not await self._batches.store.delete(row.id, principal.key_id):
            raise InvalidRequest(
                f"batch {row.id} is still processing: cancel it, and delete it once it has ended"
            )
        await ex.respond(200, deleted(row.id))


def _handler(p: Parts) -> MessageBatchesHandler:
    return MessageBatchesHandler(p.batches, p.auth, p.bounds)


ROUTES = (
    Route("POST", BASE, lambda p: _handler(p).create),
    Route("GET", BASE, lambda p: _handler(p).list),
)
SUFFIX_ROUTES = (
    SuffixRoute("GET", BASE + "/", lambda p: _handler(p).get),
    SuffixRoute("POST", BASE + "/", lambda p: _handler(p).post),
    SuffixRoute("DELETE", BASE + "/", lambda p: _handler(p).delete),
)
