"""Upstream error statuses -> what the client sees: one table (errors.UPSTREAM_STATUSES)."""

from __future__ import annotations

import pytest

from switchboard.errors import UPSTREAM_STATUSES, UpstreamError

# status -> (client status, error type, retryable, keeps retry-after)
EXPECTED = {
    400: (400, "invalid_request_error", False, False),
    401: (502, "api_error", True, False),
    403: (502, "api_error", True, False),
    404: (502, "api_error", True, False),
    409: (400, "invalid_request_error", False, False),
    413: (413, "request_too_large", False, False),
    422: (400, "invalid_request_error", False, False),
    429: (429, "rate_limit_error", True, True),
    500: (502, "api_error", True, False),
    502: (502, "api_error", True, False),
    503: (529, "overloaded_error", True, True),
    504: (504, "timeout_error", True, False),
    529: (529, "overloaded_error", True, True),
    599: (502, "api_error", True, False),
}


@pytest.mark.parametrize("upstream", sorted(EXPECTED))
def test_each_upstream_status_maps_to_what_the_client_can_act_on(upstream: int) -> None:
    status, error_type, retryable, keeps = EXPECTED[upstream]
    exc = UpstreamError.from_status(upstream, "went {wrong}", provider="p", retry_after=7.0)
    assert (exc.status, exc.error_type, exc.retryable) == (status, error_type, retryable)
    assert exc.upstream_status == upstream
    assert exc.provider == "p"
    assert exc.retry_after == (7.0 if keeps else None)


def test_messages_name_the_provider_and_quote_the_upstream_verbatim() -> None:
    exc = UpstreamError.from_status(500, "went {wrong}", provider="p")
    assert exc.message == "upstream provider 'p' answered 500: went {wrong}"
    assert "base_url" in UpstreamError.from_status(404, "no", provider="p").message
    creds = UpstreamError.from_status(401, "bad key", provider="p")
    assert "bad key" not in creds.message
    assert "the gateway operator must fix the provider key" in creds.message


def test_the_table_is_the_one_place_for_special_statuses() -> None:
    assert set(UPSTREAM_STATUSES) == {401, 403, 404, 413, 429, 503, 504, 529}
    with pytest.raises(TypeError):
        UPSTREAM_STATUSES[418] = UPSTREAM_STATUSES[413]  # type: ignore[index]
