"""What Bedrock said when it failed: its error body is `{"message": ...}` (some services spell it
`Message`), its type in the `x-amzn-errortype` header or, inside a stream, an exception
message's `:exception-type` header. Shared by InvokeModel and Converse."""

from __future__ import annotations

from typing import Any

import orjson

# Exception type (either spelling: `ThrottlingException` over HTTP, `throttlingException` in a
# stream) -> the HTTP status Bedrock gives it.
_STATUS = {
    "validationexception": 400,
    "servicequotaexceededexception": 400,
    "accessdeniedexception": 403,
    "resourcenotfoundexception": 404,
    "modeltimeoutexception": 408,
    "modelerrorexception": 424,
    "modelstreamerrorexception": 424,
    "throttlingexception": 429,
    "modelnotreadyexception": 429,
    "internalserverexception": 500,
    "serviceunavailableexception": 503,
}


def exception_status(exception_type: str) -> int:
    """The status of a named exception; an unknown one is Bedrock's failure (500)."""
    return _STATUS.get(exception_type.split(":", 1)[0].strip().lower(), 500)


def upstream_error_message(body: bytes) -> str:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        for key in ("message", "Message"):
            if isinstance(data.get(key), str):
                return str(data[key])[:2000]
    return body[:500].decode("utf-8", "replace")
