"""What a Gemini upstream said when it failed: Google's error body
`{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}`,
and the retry delay its `google.rpc.RetryInfo` detail asks for (Gemini sends no Retry-After
header with a 429). Vertex AI answers the same way; `error_body` writes that envelope for the
gateway's own failures, for clients of its Vertex surface."""

from __future__ import annotations

import re

import msgspec
import orjson

from switchboard.dialects.gemini import wire
from switchboard.errors import GatewayError

_decode_error = msgspec.json.Decoder(wire.ErrorBody).decode
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")
# HTTP status -> google.rpc.Code's name, as Google APIs pair them.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",
}


def error_body(error: GatewayError, request_id: str) -> bytes:
    """The gateway's failure in Google's envelope (the request id is in its response headers)."""
    status = _STATUS_NAMES.get(error.status, "INTERNAL")
    return orjson.dumps(
        {"error": {"code": error.status, "message": error.message, "status": status}}
    )


def _status(body: bytes) -> wire.Status | None:
    try:
        return _decode_error(body).error
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def upstream_error_message(body: bytes) -> str:
    status = _status(body)
    if status is None or not status.message:
        return body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    if status.status:
        return f"{status.status}: {status.message}"
    return status.message


def retry_delay(body: bytes) -> float | None:
    """Seconds from the RetryInfo detail, when there is one."""
    status = _status(body)
    if status is None:
        return None
    return status_retry_delay(status)


def status_retry_delay(status: wire.Status) -> float | None:
    for detail in status.details or ():
        if detail.retry_delay:
            match = _DELAY.match(detail.retry_delay.strip())
            if match:
                return float(match.group(1))
    return None
