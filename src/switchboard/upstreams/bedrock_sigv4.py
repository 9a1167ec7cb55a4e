"""SigV4 for Bedrock: one provider's AWS credentials and botocore's signer, with what is the same
from one request to the next worked out once. botocore is imported only here, at a bedrock
provider's first request."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from typing import Any

from switchboard.config import ProviderConfig
from switchboard.errors import UpstreamError

SERVICE = "bedrock"


class Signer:
    """One provider's credentials and SigV4 signer. Credentials come from the config, else the
    standard AWS chain (resolved once, off the event loop; botocore refreshes temporary ones,
    which is done off the loop too when due)."""

    def __init__(self, provider: ProviderConfig) -> None:
        self._provider = provider
        self._credentials: Any = None
        self._lock = asyncio.Lock()
        self._auth: Any = None  # the signer for the current frozen credentials

    def _resolve(self) -> Any:
        import botocore.credentials
        import botocore.session

        p = self._provider
        if p.aws_access_key_id and p.aws_secret_access_key:
            return botocore.credentials.Credentials(
                p.aws_access_key_id, p.aws_secret_access_key, p.aws_session_token or None
            )
        session = botocore.session.Session(profile=p.aws_profile or None)
        return session.get_credentials()

    async def _frozen(self) -> Any:
        if self._credentials is None:
            async with self._lock:
                if self._credentials is None:
                    from botocore.exceptions import BotoCoreError

                    try:
                        found = await asyncio.to_thread(self._resolve)
                    except (BotoCoreError, OSError, ValueError) as exc:  # a missing profile...
                        raise self._no_credentials(type(exc).__name__) from None
                    if found is None:
                        raise self._no_credentials("the AWS credential chain found none")
                    self._credentials = found
        creds = self._credentials
        refresh_needed = getattr(creds, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            return await asyncio.to_thread(creds.get_frozen_credentials)
        return creds.get_frozen_credentials()

    def _no_credentials(self, why: str) -> UpstreamError:
        return UpstreamError(
            f"upstream provider '{self._provider.name}' has no usable AWS credentials ({why}); "
            "the gateway operator must configure them",
            status=502,
            error_type="api_error",
            upstream_status=0,
            provider=self._provider.name,
            retryable=True,
        )

    async def headers(self, url: str, body: bytes, accept: str) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest

        frozen = await self._frozen()
        if self._auth is None or self._auth.credentials != frozen:  # new or refreshed ones
            self._auth = _sigv4()(frozen, SERVICE, self._provider.region)
        # The host botocore would work out from the URL (per request, a quarter of its cost
        # before): signed, and left out of what is sent, since the client writes its own.
        host = _host(url)
        headers = {"content-type": "application/json", "accept": accept, "host": host}
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        self._auth.add_auth(request)
        signed = {k.lower(): v for k, v in request.headers.items()}
        del signed["host"]
        signed.update(self._provider.headers)
        return signed


@functools.lru_cache(maxsize=256)  # URLs are per provider, model and action
def _host(url: str) -> str:
    from botocore.auth import _host_from_url

    host: str = _host_from_url(url)
    return host


@functools.cache
def _sigv4() -> Any:
    """botocore's SigV4 signer (a subclass made on first use: botocore is imported late) that
    works out once what is the same from one request to the next, about a third of its cost
    per request: the signing key, four HMACs over the secret, the day, the region and the
    service (once a day per credentials); each path's canonical form; the signed headers
    selected once per request, not twice; the payload hash from the body bytes, without
    botocore preparing a copy of the request. What is signed and how is botocore's."""
    from botocore.auth import EMPTY_SHA256_HASH, SigV4Auth

    class CachingSigV4Auth(SigV4Auth):  # type: ignore[misc]  # botocore has no type hints
        def __init__(self, credentials: Any, service: str, region: str) -> None:
            super().__init__(credentials, service, region)
            self._day_key: tuple[str, bytes] = ("", b"")
            self._paths: dict[str, str] = {}
            self._selected: tuple[Any, Any] | None = None  # (request, its headers to sign)

        def add_auth(self, request: Any) -> None:
            try:
                super().add_auth(request)
            finally:
                self._selected = None  # holds the request (and its body) only while signing

        def signature(self, string_to_sign: str, request: Any) -> str:
            day = request.context["timestamp"][0:8]
            if self._day_key[0] != day:
                key = self._sign(f"AWS4{self.credentials.secret_key}".encode(), day)
                for part in (self._region_name, self._service_name, "aws4_request"):
                    key = self._sign(key, part)
                self._day_key = (day, key)
            signature: str = self._sign(self._day_key[1], string_to_sign, hex=True)
            return signature

        def _normalize_url_path(self, path: str) -> str:
            found = self._paths.get(path)
            if found is None:
                if len(self._paths) >= 1024:  # paths are per model and action: few
                    self._paths.clear()
                found = self._paths[path] = super()._normalize_url_path(path)
            return found

        def headers_to_sign(self, request: Any) -> Any:
            # add_auth asks twice (the canonical request, then the Authorization header)
            # with nothing changed in between.
            if self._selected is not None and self._selected[0] is request:
                return self._selected[1]
            selected = super().headers_to_sign(request)
            self._selected = (request, selected)
            return selected

        def payload(self, request: Any) -> str:
            data = request.data
            if (
                isinstance(data, bytes)
                and not self._is_streaming_checksum_payload(request)
                and self._should_sha256_sign_payload(request)
            ):
                return hashlib.sha256(data).hexdigest() if data else EMPTY_SHA256_HASH
            found: str = super().payload(request)
            return found

    return CachingSigV4Auth
