"""The OpenAI Batch API on the same machinery as the Message Batches API (batches/): `POST
/v1/files` (a JSONL upload, purpose "batch"), `GET /v1/files/{id}` and `/content`, `POST
/v1/batches`, `GET /v1/batches` and `/v1/batches/{id}`, `POST /v1/batches/{id}/cancel` (also
under `/openai`). Files and batches are their key's: another key gets 404. An ended batch's
output and error files hold OpenAI's batch output lines (dialects/openai_chat/batches.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import msgspec
import orjson

from switchboard.api.bounds import Bounds
from switchboard.api.exchange import Exchange
from switchboard.api.message_batches import checked, state
from switchboard.api.multipart import form_fields
from switchboard.api.surface import Parts, Route, SuffixRoute
from switchboard.batches.runtime import Batches
from switchboard.dialects.openai_chat.batches import (
    ENDPOINT,
    batch_object,
    decode_input,
    file_id,
    file_object,
)
from switchboard.dialects.validation import decode
from switchboard.errors import InvalidRequest, NotFound
from switchboard.ids import openai_batch_id
from switchboard.storage.batches import BatchRow
from switchboard.storage.files import FileRow
from switchboard.tenancy.auth import Authenticator, Principal

API = "openai"
MAX_FILENAME = 255
JSONL = b"application/jsonl"


class _CreateBatch(msgspec.Struct):
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None = None


_decode_create = msgspec.json.Decoder(_CreateBatch).decode


def describe(row: BatchRow) -> dict[str, object]:
    return batch_object(
        **state(row),
        input_file_id=row.input_file_id,
        output_file_id=row.output_file_id,
        error_file_id=row.error_file_id,
        metadata=row.metadata,
    )


def _file(row: FileRow) -> bytes:
    return orjson.dumps(file_object(row.id, row.bytes, row.created_at, row.filename, row.purpose))


class OpenAIBatchesHandler:
    def __init__(self, batches: Batches, auth: Authenticator, bounds: Bounds) -> None:
        self._batches = batches
        self._auth = auth
        self._bounds = bounds

    async def _principal(self, ex: Exchange) -> Principal:
        principal = await self._auth.authenticate(None, ex.headers.get("authorization"))
        ex.record.key_name = principal.name
        ex.record.key_id = principal.key_id
        return principal

    # -- files ----------------------------------------------------------------------------

    async def upload(self, ex: Exchange) -> None:
        principal = await self._principal(ex)
        body = await ex.body(self._batches.config.max_bytes, self._bounds.body_seconds)
        fields = form_fields(ex.headers.get("content-type", ""), body)
        purpose = fields.get("purpose")
        if purpose is None or purpose.value != b"batch":
            raise InvalidRequest(
                "purpose: only 'batch' files are accepted by this gateway", param="purpose"
            )
        upload = fields.get("file")
        if upload is None:
            raise InvalidRequest("file: Field required", param="file")
        name = (upload.filename or "upload.jsonl")[:MAX_FILENAME]
        if not name.isprintable():
            name = "upload.jsonl"
        row = FileRow(
            file_id(),
            principal.key_id,
            "batch",
            name,
            len(upload.value),
            datetime.now(UTC),
            None,
            None,
        )
        await self._batches.files.add(row, upload.value)
        await ex.respond(200, _file(row))

    async def file(self, ex: Exchange, rest: str) -> None:
        """`{id}` or `{id}/content`."""
        principal = await self._principal(ex)
        found_id, _, part = rest.partition("/")
        row = await self._batches.files.get(found_id, principal.key_id)
        if row is None:
            raise NotFound(f"file: no file {found_id[:64]!r} for this key", param="file_id")
        if part == "":
            await ex.respond(200, _file(row))
        elif part == "content":
            content = await self._batches.files.content(row.id)
            await ex.respond(200, content or b"", content_type=JSONL)
        else:
            raise NotFound(f"no route for GET {ex.path}")

    # -- batches --------------------------------------------------------------------------

    async def create(self, ex: Exchange) -> None:
        principal = await self._principal(ex)
        body = await self._bounds.body(ex)
        asked = decode(_decode_create, body)
        if asked.endpoint != ENDPOINT:
            raise InvalidRequest(
                f"endpoint: only {ENDPOINT} is supported by this gateway", param="endpoint"
            )
        if asked.completion_window != "24h":
            raise InvalidRequest("completion_window: must be '24h'", param="completion_window")
        source = await self._batches.files.get(asked.input_file_id, principal.key_id)
        if source is None or source.purpose != "batch":
            raise NotFound(
                f"input_file_id: no batch file {asked.input_file_id[:64]!r} for this key",
                param="input_file_id",
            )
        content = await self._batches.files.content(source.id) or b""
        items = decode_input(content, self._batches.config.max_requests)
        checked(self._batches.apis[API], items, "input_file_id.{}.body", self._bounds)
        row = await self._batches.create(
            openai_batch_id(),
            principal.key_id,
            API,
            items,
            input_file_id=source.id,
            metadata=orjson.dumps(asked.metadata).decode() if asked.metadata else None,
        )
        await ex.respond(200, orjson.dumps(describe(row)))

    async def list(self, ex: Exchange) -> None:
        principal = await self._principal(ex)
        query = parse_qs(ex.query)
        raw_limit = query.get("limit", ["20"])[-1]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise InvalidRequest("limit: must be an integer from 1 to 100", param="limit")
        rows, more = await self._batches.store.page(
            principal.key_id, API, int(raw_limit), query.get("after", [None])[-1], None
        )
        data = [describe(r) for r in rows]
        await ex.respond(
            200,
            orjson.dumps(
                {
                    "object": "list",
                    "data": data,
                    "first_id": data[0]["id"] if data else None,
                    "last_id": data[-1]["id"] if data else None,
                    "has_more": more,
                }
            ),
        )

    async def _batch(self, ex: Exchange, batch_id: str) -> tuple[Principal, BatchRow]:
        principal = await self._principal(ex)
        found = await self._batches.store.get(batch_id, principal.key_id)
        if found is None or found.api != API:
            raise NotFound(f"batch: no batch {batch_id[:64]!r} for this key", param="batch_id")
        return principal, found

    async def retrieve(self, ex: Exchange, rest: str) -> None:
        if "/" in rest:
            raise NotFound(f"no route for GET {ex.path}")
        _, row = await self._batch(ex, rest)
        await ex.respond(200, orjson.dumps(describe(row)))

    async def cancel(self, ex: Exchange, rest: str) -> None:
        batch_id, _, part = rest.partition("/")
        if part != "cancel":
            raise NotFound(f"no route for POST {ex.path}")
        principal, row = await self._batch(ex, batch_id)
        canceled = await self._batches.cancel(row.id, principal.key_id)
        assert canceled is not None
        await ex.respond(200, orjson.dumps(describe(canceled)))


def _handler(p: Parts) -> OpenAIBatchesHandler:
    return OpenAIBatchesHandler(p.batches, p.auth, p.bounds)


# As for chat completions, with or without /v1 in the client's base URL (under /openai).
ROUTES = tuple(
    Route(method, v1 + path, handler, prefixes=None if v1 else ("/openai",))
    for v1 in ("/v1", "")
    for method, path, handler in (
        ("POST", "/files", lambda p: _handler(p).upload),
        ("POST", "/batches", lambda p: _handler(p).create),
        ("GET", "/batches", lambda p: _handler(p).list),
    )
)
SUFFIX_ROUTES = (
    SuffixRoute("GET", "/v1/files/", lambda p: _handler(p).file),
    SuffixRoute("GET", "/v1/batches/", lambda p: _handler(p).retrieve),
    SuffixRoute("POST", "/v1/batches/", lambda p: _handler(p).cancel),
)
