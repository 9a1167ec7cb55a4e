"""GatewayError -> the OpenAI error envelope, as a JSON body or an in-stream `data:` frame; and
what an OpenAI-dialect upstream said when it failed. Vendors disagree on the shape: the nested
envelope, SGLang's flat object, `{"error": "string"}`, FastAPI's `detail`, DeepSeek's
`error_msg`, or plain text."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.dialects.sse import data_frame
from switchboard.errors import GatewayError

# status -> (type, code) as OpenAI spells them; the SDK branches only on the status, but tools
# log and match these.
_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
    504: ("server_error", "timeout"),
    529: ("server_error", "overloaded"),
}


def _error(error: GatewayError) -> dict[str, Any]:
    kind, code = _KINDS.get(error.status, ("server_error", None))
    if error.status == 404 and error.param == "model":
        code = "model_not_found"
    return {"message": error.message, "type": kind, "param": error.param, "code": code}


def error_body(error: GatewayError, request_id: str) -> bytes:
    return orjson.dumps({"error": _error(error)})


def error_event(error: GatewayError, request_id: str) -> bytes:
    """After the first byte the status is spent; the SDK raises APIError on this frame."""
    return data_frame(orjson.dumps({"error": _error(error)}))


def upstream_error_message(body: bytes) -> str:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str) and err:
            return err
        for key in ("message", "error_msg", "detail"):
            if data.get(key):
                value = data[key]
                return value if isinstance(value, str) else orjson.dumps(value).decode()[:500]
    return body[:500].decode("utf-8", "replace")
