"""Fetching a client-supplied document URL: every hop (the URL and each redirect) passes the
URL guard (urlguard.py), and the connection goes to the address the guard checked, never to a
name aiohttp would resolve again. A document over the size cap is refused, never truncated;
one time limit covers the whole fetch. aiohttp does the HTTP: this is not the hot path."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import aiohttp.abc
import yarl

from switchboard.upstreams.urlguard import Pinned, Refused, UrlGuard

MAX_REDIRECTS = 3
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_CHUNK = 64 * 1024


class FetchRefused(Exception):
    """A URL the guard will not fetch (`guarded`), or a fetch that failed; the message says
    why."""

    def __init__(self, message: str, *, guarded: bool = False) -> None:
        super().__init__(message)
        self.guarded = guarded


class _NoNames(aiohttp.abc.AbstractResolver):
    """The fetcher's resolver: it resolves nothing. Every URL aiohttp sees carries an address
    the guard checked; a name reaching here would be a bug, and fails instead of connecting."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        raise OSError(f"the fetcher connects only to checked addresses, not to '{host[:100]}'")

    async def close(self) -> None:
        pass


def _describe(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]


async def fetch_document(
    url: str, *, guard: UrlGuard, max_bytes: int, seconds: float
) -> tuple[bytes, str]:
    """GET a client-supplied URL under the guard; returns (body, content type)."""
    try:
        async with asyncio.timeout(seconds):
            return await _fetch(url, guard, max_bytes)
    except TimeoutError:
        raise FetchRefused(f"fetching the URL took longer than {seconds:g}s") from None
    except Refused as exc:
        raise FetchRefused(f"refused: {exc}", guarded=True) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise FetchRefused(f"the URL could not be fetched: {_describe(exc)}") from None


async def _fetch(url: str, guard: UrlGuard, max_bytes: int) -> tuple[bytes, str]:
    connector = aiohttp.TCPConnector(resolver=_NoNames(), limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        target: str | yarl.URL = url
        for _ in range(MAX_REDIRECTS + 1):
            pinned = await guard.check(target)
            async with await _get(session, pinned) as resp:
                if resp.status in _REDIRECTS and "location" in resp.headers:
                    try:
                        target = pinned.url.join(yarl.URL(resp.headers["location"]))
                    except (ValueError, UnicodeError):
                        raise FetchRefused("the URL redirected to an invalid location") from None
                    continue
                if resp.status != 200:
                    raise FetchRefused(f"fetching the URL gave HTTP {resp.status}")
                body = await _read(resp, max_bytes)
                return body, resp.headers.get("content-type", "")
    raise FetchRefused(f"the URL redirected more than {MAX_REDIRECTS} times")


async def _get(session: aiohttp.ClientSession, pinned: Pinned) -> aiohttp.ClientResponse:
    """GET from the first checked address that accepts a connection, naming the original
    host in Host and to TLS."""
    failure: aiohttp.ClientConnectorError | None = None
    for address in pinned.addresses:
        try:
            return await session.get(
                pinned.url_for(address),
                headers={"Host": pinned.host_header},
                server_hostname=pinned.tls_name,
                allow_redirects=False,
            )
        except aiohttp.ClientConnectorError as exc:
            failure = exc
    assert failure is not None  # a Pinned has at least one address
    raise failure


async def _read(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The whole body, or FetchRefused as soon as it is known to exceed the cap: from
    Content-Length before reading anything, else when the bytes read pass it."""
    too_big = f"the document is larger than {max_bytes} bytes (documents.max_bytes)"
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise FetchRefused(too_big)
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise FetchRefused(too_big)
    return bytes(body)
