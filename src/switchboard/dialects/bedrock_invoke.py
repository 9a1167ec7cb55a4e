"""Bedrock InvokeModel's framing of Anthropic replies, as the gateway serves it to Bedrock
clients: a streamed reply is the Anthropic event stream, each event's JSON one event-stream
`chunk` message whose payload is `{"bytes": base64(event JSON)}`; a failure is an `exception`
message mid-stream, else `{"message"}` with its type in `x-amzn-ErrorType`. Pure.

The error types are those botocore and the Anthropic SDKs' Bedrock clients know (PascalCase
over HTTP, camelCase in a stream)."""

from __future__ import annotations

import base64

import orjson

from switchboard.dialects.aws_eventstream import MessageEncoder, encode_message
from switchboard.dialects.sse import SSEDecoder
from switchboard.errors import GatewayError

CONTENT_TYPE = b"application/vnd.amazon.eventstream"
_CHUNK = MessageEncoder(
    {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
)

# The gateway's error types (errors.py) -> Bedrock's exception names.
_TYPES = {
    "invalid_request_error": "ValidationException",
    "request_too_large": "ValidationException",
    "authentication_error": "UnrecognizedClientException",
    "permission_error": "AccessDeniedException",
    "billing_error": "AccessDeniedException",
    "not_found_error": "ResourceNotFoundException",
    "rate_limit_error": "ThrottlingException",
    "overloaded_error": "ServiceUnavailableException",
    "timeout_error": "ModelTimeoutException",
}
_DEFAULT_TYPE = "InternalServerException"


class ChunkFramer:
    """Anthropic SSE bytes, cut anywhere -> one `chunk` message per event. SSE comments (the
    loss report told mid-stream) have no place in the framing and are left out; the
    request's record keeps them."""

    __slots__ = ("_sse",)

    def __init__(self) -> None:
        self._sse = SSEDecoder()

    def __call__(self, data: bytes) -> bytes:
        return b"".join(
            _CHUNK(b'{"bytes":"' + base64.b64encode(e.data) + b'"}')
            for e in self._sse.feed(data)
            if e.data
        )


def error_type(error: GatewayError) -> str:
    return _TYPES.get(error.error_type, _DEFAULT_TYPE)


def error_body(error: GatewayError, request_id: str) -> bytes:
    return orjson.dumps({"message": error.message})


def error_headers(error: GatewayError, request_id: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-amzn-errortype", error_type(error).encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]


def error_event(error: GatewayError, request_id: str) -> bytes:
    name = error_type(error)
    headers = {
        ":exception-type": name[0].lower() + name[1:],
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, error_body(error, request_id))
