"""GatewayError -> what a Responses client reads: the OpenAI error envelope (the same as chat
completions') as a body, and in a stream the `error` event (used where no response was begun;
a begun one ends with `response.failed`, stream.py)."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.dialects.openai_chat.errors import error_body
from switchboard.dialects.sse import frame
from switchboard.errors import GatewayError

__all__ = ["error_body", "error_code", "error_event"]


def _error(error: GatewayError, request_id: str) -> dict[str, Any]:
    err: dict[str, Any] = orjson.loads(error_body(error, request_id))["error"]
    return err


def error_code(error: GatewayError, request_id: str) -> str:
    """The `code` of a failed response's `error`: the envelope's code, else its type."""
    err = _error(error, request_id)
    return str(err["code"] or err["type"])


def error_event(error: GatewayError, request_id: str, sequence_number: int = 0) -> bytes:
    err = _error(error, request_id)
    event = {
        "type": "error",
        "sequence_number": sequence_number,
        "code": err["code"] or err["type"],
        "message": err["message"],
        "param": err["param"],
    }
    return frame("error", orjson.dumps(event))
