"""The one check of an error reply in the Anthropic dialect, as a client sees it: the status, a
JSON body {"type": "error", "error": {"type", "message"}, "request_id"} whose request id is the
`request-id` header's, for a response from httpx or from the raw-socket client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # raw_client re-exports assert_envelope: no import at run time
    from tests.support.raw_client import Response as RawResponse


def assert_envelope(
    resp: httpx.Response | RawResponse,
    status: int,
    error_type: str,
    message: str | None = None,
) -> dict[str, Any]:
    """Assert the envelope (and, when given, a phrase of its message); return the body."""
    if isinstance(resp, httpx.Response):
        got, text = resp.status_code, resp.text
    else:
        got, text = resp.status, resp.body.decode(errors="replace")
    assert got == status, text
    assert resp.headers["content-type"] == "application/json"
    body: dict[str, Any] = resp.json()
    assert body["type"] == "error"
    error = body["error"]
    assert isinstance(error, dict)
    assert error["type"] == error_type
    if message is not None:
        assert message in str(error["message"])
    assert body["request_id"] == resp.headers["request-id"]
    assert str(body["request_id"]).startswith("req_")
    return body
