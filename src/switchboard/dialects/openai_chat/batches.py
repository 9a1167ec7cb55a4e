"""The OpenAI Batch API's wire format: the input file's lines, the `batch` and `file` objects,
and the output and error files' lines. Pure: times come in as arguments."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

import msgspec
import orjson

from switchboard.dialects.validation import invalid
from switchboard.errors import InvalidRequest

ENDPOINT = "/v1/chat/completions"
MAX_CUSTOM_ID = 64


class _Line(msgspec.Struct):
    custom_id: str
    method: Literal["POST"]
    url: str
    body: msgspec.Raw


_decode_line = msgspec.json.Decoder(_Line).decode


def decode_input(content: bytes, max_requests: int) -> list[tuple[str, bytes]]:
    """(custom_id, body) of each line of an input file; a bad line is a 400 naming it."""
    items: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        if len(items) == max_requests:
            raise InvalidRequest(
                f"input_file_id: at most {max_requests} requests are accepted in a batch",
                param="input_file_id",
            )
        try:
            item = _decode_line(line)
        except msgspec.DecodeError as exc:
            refused = invalid(exc)
            raise InvalidRequest(
                f"input_file_id: line {n}: {refused.message}", param="input_file_id"
            ) from None
        if item.url != ENDPOINT:
            raise InvalidRequest(
                f"input_file_id: line {n}: url must be {ENDPOINT}, the batch's endpoint",
                param="input_file_id",
            )
        if not 1 <= len(item.custom_id) <= MAX_CUSTOM_ID or not item.custom_id.isprintable():
            raise InvalidRequest(
                f"input_file_id: line {n}: custom_id must be 1 to {MAX_CUSTOM_ID} "
                "printable characters",
                param="input_file_id",
            )
        if item.custom_id in seen:
            raise InvalidRequest(
                f"input_file_id: line {n}: custom_id '{item.custom_id}' is not unique",
                param="input_file_id",
            )
        seen.add(item.custom_id)
        items.append((item.custom_id, bytes(item.body)))
    if not items:
        raise InvalidRequest("input_file_id: the file holds no requests", param="input_file_id")
    return items


def _seconds(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp())


# The batch's state as OpenAI names it: (status, which `*_at` field the state's time goes in).
def batch_object(
    *,
    batch_id: str,
    status: str,
    counts: dict[str, int],
    total: int,
    created_at: datetime,
    expires_at: datetime,
    ended_at: datetime | None,
    cancel_initiated_at: datetime | None,
    input_file_id: str | None,
    output_file_id: str | None,
    error_file_id: str | None,
    metadata: str | None,
) -> dict[str, Any]:
    expired = counts["expired"] > 0
    canceled = cancel_initiated_at is not None
    if status == "ended" and output_file_id is None and error_file_id is None and total:
        name = "finalizing"  # ended; its output files are being made
    elif status == "ended":
        name = "expired" if expired else "cancelled" if canceled else "completed"
    else:
        name = "cancelling" if status == "canceling" else "in_progress"
    end = _seconds(ended_at)
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": ENDPOINT,
        "errors": None,
        "input_file_id": input_file_id,
        "completion_window": "24h",
        "status": name,
        "output_file_id": output_file_id,
        "error_file_id": error_file_id,
        "created_at": _seconds(created_at),
        "in_progress_at": _seconds(created_at),
        "expires_at": _seconds(expires_at),
        "finalizing_at": end,
        "completed_at": end if name == "completed" else None,
        "failed_at": None,
        "expired_at": end if name == "expired" else None,
        "cancelling_at": _seconds(cancel_initiated_at),
        "cancelled_at": end if name == "cancelled" else None,
        "request_counts": {
            "total": total,
            "completed": counts["succeeded"],
            "failed": counts["errored"] + counts["canceled"] + counts["expired"],
        },
        "metadata": orjson.loads(metadata) if metadata else None,
    }


def file_object(
    file_id: str, size: int, created_at: datetime, filename: str, purpose: str
) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": _seconds(created_at),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
    }


def file_id() -> str:
    return "file-" + secrets.token_hex(12)


_ERRORS = {
    "canceled": ("batch_cancelled", "The batch was cancelled before this request ran."),
    "expired": ("batch_expired", "The batch expired before this request ran."),
}


def output_lines(
    results: Iterable[tuple[str, str, int | None, str | None, bytes | None]], part: str
) -> bytes:
    """(custom_id, outcome, status, request id, stored body) -> the output file's lines
    (`part` "output": the succeeded requests) or the error file's (the rest)."""
    lines = []
    for custom_id, outcome, status, request_id, body in results:
        if (outcome == "succeeded") != (part == "output"):
            continue
        line: dict[str, Any] = {"id": "batch_req_" + secrets.token_hex(12), "custom_id": custom_id}
        if outcome in _ERRORS:
            code, message = _ERRORS[outcome]
            line["response"] = None
            line["error"] = {"code": code, "message": message}
        else:
            line["response"] = {
                "status_code": status,
                "request_id": request_id,
                "body": orjson.Fragment(body or b"{}"),
            }
            line["error"] = None
        lines.append(orjson.dumps(line) + b"\n")
    return b"".join(lines)
