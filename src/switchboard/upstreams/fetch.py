"""Fetching a client-supplied document URL, under a guard: http(s) only, public addresses only
(also after DNS and redirects), a size cap and a time limit. aiohttp does the fetching: this is
not the hot path, and its resolver hook is where the address check belongs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.parse

import aiohttp
import aiohttp.abc


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
