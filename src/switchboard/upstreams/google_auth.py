"""OAuth access tokens for Vertex AI, from a service-account (or other credentials) file or from
application-default credentials, through `google-auth` (imported only when a Vertex provider is
used). A token is fetched on first use; while it has more than `REFRESH_MARGIN` seconds left it is
returned as is (O(1)); in its last minutes a background task refreshes it, so requests do not
wait; only an expired or absent token is waited for. Tokens are never logged: errors say only
what the token endpoint's reply said, masked by the redactor.

google-auth's network calls are blocking, so they run in a worker thread, over the standard
library's HTTP client (google-auth's own transports would need `requests` or `urllib3`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from switchboard.config import ProviderConfig
from switchboard.errors import UpstreamError
from switchboard.redact import Redactor

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REFRESH_MARGIN = 300.0  # seconds before expiry a background refresh starts
_HTTP_TIMEOUT = 30.0


def _transport() -> Any:
    """A `google.auth.transport.Request` over urllib."""
    import google.auth.exceptions
    import google.auth.transport

    class Response(google.auth.transport.Response):
        def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
            self._status, self._headers, self._data = status, headers, data

        @property
        def status(self) -> int:
            return self._status

        @property
        def headers(self) -> Mapping[str, str]:
            return self._headers

        @property
        def data(self) -> bytes:
            return self._data

    class Request(google.auth.transport.Request):
        def __call__(
            self,
            url: str,
            method: str = "GET",
            body: bytes | None = None,
            headers: Mapping[str, str] | None = None,
            timeout: float | None = None,
            **kwargs: Any,
        ) -> Response:
            req = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
            try:
                with urllib.request.urlopen(req, timeout=timeout or _HTTP_TIMEOUT) as reply:
                    return Response(reply.status, dict(reply.headers), reply.read())
            except urllib.error.HTTPError as exc:
                return Response(exc.code, dict(exc.headers), exc.read())
            except OSError as exc:
                raise google.auth.exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]

    return Request()


def _from_file(path: str) -> Any:
    """The credentials of a service-account or authorized-user file, through google-auth's
    loaders for those two types (its generic loader also takes external-account files, which
    run commands and fetch URLs the file names: a file the operator did not write must not)."""
    import google.oauth2.credentials
    import google.oauth2.service_account

    with open(path, "rb") as f:
        info = json.loads(f.read())
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        return google.oauth2.service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(SCOPES)
        )
    if kind == "authorized_user":
        return google.oauth2.credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
            info, scopes=list(SCOPES)
        )
    raise ValueError(
        f"{path}: credentials of type {str(kind)[:40]!r} are not supported here "
        "(service_account or authorized_user; others through application-default credentials)"
    )


class AccessToken:
    """One Vertex provider's access token."""

    def __init__(self, provider: ProviderConfig, redactor: Redactor) -> None:
        self._provider = provider
        self._redactor = redactor
        self._credentials: Any = None
        self._request: Any = None
        self._token = ""
        self._expires = 0.0  # time.monotonic() at expiry
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def get(self) -> str:
        left = self._expires - time.monotonic()
        if self._token and left > REFRESH_MARGIN:
            return self._token
        if self._token and left > 0:
            if self._background is None or self._background.done():
                self._background = asyncio.create_task(self._refresh_quietly())
            return self._token
        await self._refresh()
        return self._token

    def invalidate(self) -> None:
        """Vertex refused the token (revoked, or the clock lied): the next use fetches anew."""
        self._token, self._expires = "", 0.0

    async def _refresh_quietly(self) -> None:
        # The token still works; the next request past expiry retries and reports a failure.
        with contextlib.suppress(UpstreamError):
            await self._refresh()

    async def _refresh(self) -> None:
        async with self._lock:
            if self._token and self._expires - time.monotonic() > REFRESH_MARGIN:
                return  # another request refreshed it while this one waited
            token, expires_in = await asyncio.to_thread(self._fetch)
            self._token, self._expires = token, time.monotonic() + expires_in

    def _fetch(self) -> tuple[str, float]:
        """Blocking: load the credentials once, then refresh them."""
        import google.auth
        import google.auth.exceptions

        name = self._provider.name
        try:
            if self._credentials is None:
                path = self._provider.credentials_file
                if path:
                    creds = _from_file(path)
                else:
                    creds, _ = google.auth.default(scopes=list(SCOPES))
                self._credentials, self._request = creds, _transport()
            self._credentials.refresh(self._request)
        except (google.auth.exceptions.GoogleAuthError, OSError, ValueError) as exc:
            why = self._redactor.text(str(exc))[:300]
            raise UpstreamError.unreachable(name, f"could not get an access token: {why}") from None
        token = self._credentials.token
        if not token:
            raise UpstreamError.unreachable(name, "the token endpoint returned no access token")
        expiry = self._credentials.expiry  # naive UTC, or None for tokens without one
        if expiry is None:
            return token, 3600.0
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return token, max((expiry - now).total_seconds(), 0.0)
