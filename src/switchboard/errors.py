"""The one exception tree. Each class knows its HTTP status and its Anthropic error type.

    GatewayError                      any error a client may see
    ├── InvalidRequest                400 invalid_request_error (bad JSON, a missing or bad field)
    ├── AuthenticationFailed          401 authentication_error
    ├── BillingError                  402 billing_error
    ├── PermissionDenied              403 permission_error
    ├── NotFound                      404 not_found_error (unknown model, unknown route)
    ├── RequestTimeout                408 timeout_error (the client sent its body too slowly)
    ├── Conflict                      409 invalid_request_error (an admin change that clashes)
    ├── RequestTooLarge               413 request_too_large
    ├── HeadersTooLarge               431 invalid_request_error (request line and headers)
    ├── RateLimited                   429 rate_limit_error (carries retry-after)
    ├── ApiError                      500 api_error (a bug of ours, or an upstream we cannot use)
    ├── GatewayTimeout                504 timeout_error
    ├── Overloaded                    529 overloaded_error (also: the gateway shutting down)
    └── UpstreamError                 an upstream answered with an error or could not be reached;
                                      built once, at the upstream HTTP boundary, from the upstream's
                                      status, and mapped there to what the client can act on.
                                      Its message quotes the upstream only through the app's
                                      redactor (redact.py): providers echo the key they got.

Errors are converted once at each boundary: upstream HTTP -> UpstreamError; GatewayError -> the
client's dialect envelope (dialects/*/errors.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


class GatewayError(Exception):
    status: int = 500
    error_type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.param = param
        # Headers the response must carry whatever the error (the key's rate-limit state).
        self.extra_headers: list[tuple[bytes, bytes]] = []

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after is None:
            return self.extra_headers
        seconds = max(0, round(self.retry_after))
        return [(b"retry-after", str(seconds).encode()), *self.extra_headers]


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    error_type = "authentication_error"


class BillingError(GatewayError):
    status = 402
    error_type = "billing_error"


class PermissionDenied(GatewayError):
    status = 403
    error_type = "permission_error"


class NotFound(GatewayError):
    status = 404
    error_type = "not_found_error"


class RequestTimeout(GatewayError):
    # 408 is what HTTP has for a client too slow to send its request; Anthropic documents no
    # type for it, and timeout_error is the one that says what happened.
    status = 408
    error_type = "timeout_error"

    def headers(self) -> list[tuple[bytes, bytes]]:
        # The rest of the body may still be on its way: this connection cannot be reused.
        return [(b"connection", b"close")]


class Conflict(GatewayError):
    # The admin API's: a team name already taken, a team that still has keys.
    status = 409
    error_type = "invalid_request_error"


class RequestTooLarge(GatewayError):
    status = 413
    error_type = "request_too_large"


class HeadersTooLarge(GatewayError):
    status = 431
    error_type = "invalid_request_error"


class RateLimited(GatewayError):
    status = 429
    error_type = "rate_limit_error"


class ApiError(GatewayError):
    status = 500
    error_type = "api_error"


class GatewayTimeout(GatewayError):
    status = 504
    error_type = "timeout_error"


class Overloaded(GatewayError):
    status = 529
    error_type = "overloaded_error"


class UpstreamError(GatewayError):
    """An upstream failed. `status`/`error_type` say what the client sees; `upstream_status` what
    the upstream said (0 when it could not be reached). `retryable` marks failures another
    channel or a later attempt may not have."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str,
        upstream_status: int,
        provider: str,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.error_type = error_type
        self.upstream_status = upstream_status
        self.provider = provider
        self.retryable = retryable

    @classmethod
    def from_status(
        cls,
        upstream_status: int,
        upstream_message: str,
        *,
        provider: str,
        retry_after: float | None = None,
    ) -> UpstreamError:
        """Map an upstream HTTP error to what the client can act on (`UPSTREAM_STATUSES`).
        `upstream_message` has passed the redactor already (upstreams/http.py and the stream
        readers pass it)."""
        answer = UPSTREAM_STATUSES.get(upstream_status)
        if answer is None:
            answer = _UPSTREAM_5XX if upstream_status >= 500 else _UPSTREAM_4XX
        message = answer.message.format(
            provider=provider, status=upstream_status, upstream=upstream_message
        )
        return cls(
            message,
            status=answer.status,
            error_type=answer.error_type,
            upstream_status=upstream_status,
            provider=provider,
            retryable=answer.retryable,
            retry_after=retry_after if answer.keeps_retry_after else None,
        )

    @classmethod
    def unreachable(cls, provider: str, why: str) -> UpstreamError:
        return cls(
            f"could not reach upstream provider '{provider}': {why}",
            status=502,
            error_type="api_error",
            upstream_status=0,
            provider=provider,
            retryable=True,
        )

    @classmethod
    def timed_out(cls, provider: str, what: str) -> UpstreamError:
        return cls(
            f"upstream provider '{provider}' timed out ({what})",
            status=504,
            error_type="timeout_error",
            upstream_status=0,
            provider=provider,
            retryable=True,
        )

    @classmethod
    def malformed(cls, provider: str, why: str) -> UpstreamError:
        return cls(
            f"upstream provider '{provider}' sent a reply the gateway cannot read: {why}",
            status=502,
            error_type="api_error",
            upstream_status=200,
            provider=provider,
            retryable=True,
        )


def release(exc: BaseException) -> None:
    """Let go of the frames an answered exception holds. A traceback holds every frame it
    passed through, and with them the request (its body, however large); an exception also
    kept in one of those frames (`last = exc ... raise last`) or on an object they reach makes
    a cycle, which only the cyclic collector frees, and that seldom runs (app.py freezes the
    startup heap and raises the thresholds). Called by the boundaries once the error has been
    answered and logged; clears the chain of causes and contexts too."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        if e.__cause__ is not None:
            todo.append(e.__cause__)
        if e.__context__ is not None:
            todo.append(e.__context__)


_DETAIL = "upstream provider '{provider}' answered {status}: {upstream}"


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """What the client sees when an upstream answers with an error status. `message` is
    formatted with `provider`, `status` and `upstream` (the upstream's own message, redacted)."""

    status: int
    error_type: str
    retryable: bool
    message: str = _DETAIL
    keeps_retry_after: bool = False  # the upstream's retry-after is passed on to the client


# The upstream rejected the gateway's own credentials: the operator must fix it, the client
# cannot, so it is not an authentication error of the client's.
_CREDENTIALS = UpstreamAnswer(
    502,
    "api_error",
    retryable=True,
    message="upstream provider '{provider}' rejected the gateway's credentials ({status}); "
    "the gateway operator must fix the provider key",
)
_OVERLOADED = UpstreamAnswer(529, "overloaded_error", retryable=True, keeps_retry_after=True)
# Statuses not in the table: any other 5xx is the upstream's failure; any other 4xx means the
# request itself was refused (bad parameters, context too long).
_UPSTREAM_5XX = UpstreamAnswer(502, "api_error", retryable=True)
_UPSTREAM_4XX = UpstreamAnswer(400, "invalid_request_error", retryable=False)

UPSTREAM_STATUSES: Mapping[int, UpstreamAnswer] = MappingProxyType(
    {
        401: _CREDENTIALS,
        403: _CREDENTIALS,
        404: UpstreamAnswer(
            502,
            "api_error",
            retryable=True,
            message=_DETAIL + " (check the channel's upstream model name and base_url)",
        ),
        413: UpstreamAnswer(413, "request_too_large", retryable=False),
        429: UpstreamAnswer(429, "rate_limit_error", retryable=True, keeps_retry_after=True),
        503: _OVERLOADED,
        529: _OVERLOADED,
        504: UpstreamAnswer(504, "timeout_error", retryable=True),
    }
)
