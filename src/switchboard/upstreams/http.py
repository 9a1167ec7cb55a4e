"""The only aiohttp user: one session per process, timeouts per provider, and the one place
where upstream HTTP failures become UpstreamError."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import socket
import time
import urllib.parse
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TypeVar

import aiohttp
import aiohttp.abc

from switchboard.config import ProviderConfig
from switchboard.dialects.sse import SSEDecoder, SSEEvent
from switchboard.errors import UpstreamError

ErrorReader = Callable[[bytes], str]
T = TypeVar("T")

_MAX_ERROR_BODY = 64 * 1024


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `retry-after` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class HttpClient:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self,
        provider: ProviderConfig,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        read_error: ErrorReader,
        *,
        stream: bool,
    ) -> aiohttp.ClientResponse:
        """POST and wait for the status. Error statuses are read and raised as UpstreamError;
        the caller owns (and must release) a successful response."""
        assert self._session is not None, "HttpClient.start() was not awaited"
        t = provider.timeouts
        # No sock_read here: it would also cut the wait for the headers, which `first_byte`
        # bounds; the idle gap is armed once the headers are in (_arm_idle).
        timeout = aiohttp.ClientTimeout(total=None if stream else t.total, sock_connect=t.connect)
        try:
            async with asyncio.timeout(t.first_byte):
                resp = await self._session.post(url, data=body, headers=headers, timeout=timeout)
        except aiohttp.ConnectionTimeoutError:
            raise UpstreamError.timed_out(provider.name, "connecting") from None
        except TimeoutError:
            raise UpstreamError.timed_out(provider.name, "waiting for the first byte") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError.unreachable(provider.name, _describe(exc)) from None
        if resp.status >= 400:
            try:
                raw = await resp.content.read(_MAX_ERROR_BODY)
            except (aiohttp.ClientError, TimeoutError):
                raw = b""
            finally:
                resp.close()
            raise UpstreamError.from_status(
                resp.status,
                read_error(raw),
                provider=provider.name,
                retry_after=retry_after_seconds(resp.headers),
            )
        if stream and resp.content_type == "application/json":
            # A JSON body where an event stream was asked for: the upstream ignored `stream`
            # or hid an error behind a 200; either way there is no stream to relay.
            resp.close()
            raise UpstreamError.malformed(provider.name, "a JSON reply to a streaming request")
        _arm_idle(resp, t.idle)
        return resp

    @staticmethod
    async def read(provider: ProviderConfig, resp: aiohttp.ClientResponse) -> bytes:
        """The whole reply, at most `max_reply_bytes` of it: a bigger one is a failure of the
        upstream's, and its connection is closed rather than drained."""
        limit = provider.max_reply_bytes
        declared = resp.content_length
        ok = False
        try:
            if declared is not None and declared > limit:
                raise _too_big(provider)
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                if size > limit:
                    raise _too_big(provider)
                chunks.append(chunk)
            ok = True
            return b"".join(chunks)
        except TimeoutError:
            raise UpstreamError.timed_out(provider.name, "reading the reply") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError.unreachable(provider.name, _describe(exc)) from None
        finally:
            # Closing (not releasing) a reply read only in part, or abandoned by a cancelled
            # request, so the upstream sees the connection end at once.
            if ok:
                resp.release()
            else:
                resp.close()

    @classmethod
    async def read_reply(
        cls, provider: ProviderConfig, resp: aiohttp.ClientResponse, parse: Callable[[bytes], T]
    ) -> T:
        """The whole reply, parsed; a reply that does not parse is the upstream's failure."""
        raw = await cls.read(provider, resp)
        try:
            return parse(raw)
        except ValueError as exc:  # orjson's and msgspec's decode errors are ValueErrors
            raise UpstreamError.malformed(provider.name, str(exc)[:300]) from None

    @staticmethod
    async def events(
        provider: ProviderConfig, resp: aiohttp.ClientResponse
    ) -> AsyncGenerator[SSEEvent, None]:
        """The reply's SSE events; the connection is closed when the iteration ends or is
        abandoned, so a cancelled client cancels the upstream request at once."""
        decoder = SSEDecoder()
        try:
            while True:
                try:
                    chunk = await resp.content.readany()
                except TimeoutError:
                    raise UpstreamError.timed_out(provider.name, "idle between chunks") from None
                except aiohttp.ClientError as exc:
                    raise UpstreamError.unreachable(provider.name, _describe(exc)) from None
                if not chunk:
                    for event in decoder.flush():
                        yield event
                    return
                for event in decoder.feed(chunk):
                    yield event
        finally:
            resp.close()


def _arm_idle(resp: aiohttp.ClientResponse, idle: float) -> None:
    """Bound the gap between body chunks by `idle`: aiohttp's own per-read timer, re-armed on
    each chunk it receives, so the hot path pays no timer of ours per chunk."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    if protocol is not None:
        protocol.read_timeout = idle
        protocol.start_timeout()


def _too_big(provider: ProviderConfig) -> UpstreamError:
    return UpstreamError.malformed(
        provider.name, f"the reply is larger than the {provider.max_reply_bytes}-byte limit"
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]


class FetchRefused(Exception):
    """A URL the guard will not fetch, or a fetch that failed; the message says why."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class _PublicOnlyResolver(aiohttp.abc.AbstractResolver):
    """Resolves names, then keeps only public addresses: a name cannot smuggle a fetch to a
    private network (and the checked address is the one connected to)."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if _public(r["host"])]
        if not allowed:
            raise OSError(f"{host} resolves only to private, loopback or link-local addresses")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


async def fetch_document(
    url: str, *, max_bytes: int, seconds: float, allow_private: bool
) -> tuple[bytes, str]:
    """GET a client-supplied URL under the guard; returns (body, content type)."""
    resolver: aiohttp.abc.AbstractResolver = (
        aiohttp.ThreadedResolver() if allow_private else _PublicOnlyResolver()
    )
    connector = aiohttp.TCPConnector(resolver=resolver, limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(4):  # the URL and up to three redirects, each checked
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise FetchRefused(f"only http and https URLs are fetched, not '{url[:100]}'")
            try:
                literal = ipaddress.ip_address(parsed.hostname)
            except ValueError:
                literal = None
            if literal is not None and not allow_private and not _public(str(literal)):
                raise FetchRefused("refused: the URL points at a private or loopback address")
            try:
                async with asyncio.timeout(seconds):
                    async with session.get(url, allow_redirects=False) as resp:
                        if resp.status in (301, 302, 303, 307, 308) and "location" in resp.headers:
                            url = urllib.parse.urljoin(url, resp.headers["location"])
                            continue
                        if resp.status != 200:
                            raise FetchRefused(f"fetching the URL gave HTTP {resp.status}")
                        body = await resp.content.read(max_bytes + 1)
                        if len(body) > max_bytes:
                            raise FetchRefused(f"the document is larger than {max_bytes} bytes")
                        return body, resp.headers.get("content-type", "")
            except TimeoutError:
                raise FetchRefused(f"fetching the URL took longer than {seconds:g}s") from None
            except (aiohttp.ClientError, OSError) as exc:
                raise FetchRefused(f"the URL could not be fetched: {_describe(exc)}") from None
        raise FetchRefused("too many redirects")
