"""GatewayError -> the Anthropic error envelope, as a JSON body or an in-stream `event: error`."""

from __future__ import annotations

import orjson

from switchboard.dialects.sse import frame
from switchboard.errors import GatewayError


def error_body(error: GatewayError, request_id: str) -> bytes:
    return orjson.dumps(
        {
            "type": "error",
            "error": {"type": error.error_type, "message": error.message},
            "request_id": request_id,
        }
    )


def error_event(error: GatewayError, request_id: str) -> bytes:
    return frame("error", error_body(error, request_id))


def upstream_error_message(body: bytes) -> str:
    """What an Anthropic-dialect upstream said, from its error body (or the raw text)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return body[:500].decode("utf-8", "replace")
