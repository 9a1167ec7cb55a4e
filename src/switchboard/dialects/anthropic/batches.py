"""The Message Batches API's wire format: the create body, the `message_batch` object, the list
envelope and the results file's lines (JSONL, one line per request, no blank lines: the Python
SDK's decoder parses every line it reads). Pure: the clock's values come in as arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec
import orjson

from switchboard.dialects.validation import decode
from switchboard.errors import InvalidRequest

CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class _Item(msgspec.Struct):
    custom_id: str
    params: msgspec.Raw


class _Create(msgspec.Struct):
    requests: list[_Item]


_decode_create = msgspec.json.Decoder(_Create).decode


def decode_create(body: bytes, max_requests: int) -> list[tuple[str, bytes]]:
    """(custom_id, params body) of each request, in order; each id checked and unique. Each
    `params` is judged as a Messages request by the caller."""
    create = decode(_decode_create, body)
    if not create.requests:
        raise InvalidRequest("requests: at least one request is required", param="requests")
    if len(create.requests) > max_requests:
        raise InvalidRequest(
            f"requests: at most {max_requests} requests are accepted in a batch, "
            f"got {len(create.requests)}",
            param="requests",
        )
    return check_ids([(item.custom_id, bytes(item.params)) for item in create.requests])


def check_ids(items: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    seen: dict[str, int] = {}
    for i, (custom_id, _) in enumerate(items):
        where = f"requests.{i}.custom_id"
        if CUSTOM_ID.fullmatch(custom_id) is None:
            raise InvalidRequest(
                f"{where}: must be 1 to 64 letters, digits, '_' or '-'", param=where
            )
        if custom_id in seen:
            raise InvalidRequest(
                f"{where}: '{custom_id}' is already the custom_id of requests.{seen[custom_id]}; "
                "each must be unique within the batch",
                param=where,
            )
        seen[custom_id] = i
    return items


def rfc3339(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def message_batch(
    *,
    batch_id: str,
    status: str,
    counts: dict[str, int],
    total: int,
    created_at: datetime,
    expires_at: datetime,
    ended_at: datetime | None,
    cancel_initiated_at: datetime | None,
    results_url: str | None,
) -> dict[str, Any]:
    """A `MessageBatch`. Until the batch ends every request counts as processing, as the real
    API reports it; the counts always sum to the number of requests."""
    ended = status == "ended"
    return {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": {
            "processing": 0 if ended else total,
            "succeeded": counts["succeeded"] if ended else 0,
            "errored": counts["errored"] if ended else 0,
            "canceled": counts["canceled"] if ended else 0,
            "expired": counts["expired"] if ended else 0,
        },
        "created_at": rfc3339(created_at),
        "expires_at": rfc3339(expires_at),
        "ended_at": rfc3339(ended_at),
        "cancel_initiated_at": rfc3339(cancel_initiated_at),
        "archived_at": None,
        "results_url": results_url if ended else None,
    }


def page(items: list[dict[str, Any]], has_more: bool) -> bytes:
    return orjson.dumps(
        {
            "data": items,
            "has_more": has_more,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
        }
    )


def deleted(batch_id: str) -> bytes:
    return orjson.dumps({"id": batch_id, "type": "message_batch_deleted"})


def result_lines(results: Iterable[tuple[str, str, bytes | None]]) -> bytes:
    """(custom_id, outcome, stored body) -> the results file. A succeeded request's body is its
    Message, an errored one's its error envelope (`{"type":"error","error":{...}}`)."""
    lines = []
    for custom_id, outcome, body in results:
        result: dict[str, Any] = {"type": outcome}
        if outcome == "succeeded" and body is not None:
            result["message"] = orjson.Fragment(body)
        elif outcome == "errored" and body is not None:
            result["error"] = orjson.Fragment(body)
        lines.append(orjson.dumps({"custom_id": custom_id, "result": result}) + b"\n")
    return b"".join(lines)
