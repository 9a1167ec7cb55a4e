"""The one guard for every URL the gateway reaches on a client's behalf: it decides on the
addresses a URL's host really is, and hands back those addresses for the fetch to connect to.

A check on the URL text alone can be sidestepped: the HTTP client normalises hosts
(`127。0。0。1` and `１２７.０.０.１` become `127.0.0.1` through IDNA) and the C library reads
`2130706433`, `0x7f.1` or `127.1` as IPv4 addresses. So the guard

1. parses the URL with yarl, the HTTP client's own parser (NFKC and IDNA/UTS 46 included), and
   works on the host it produced;
2. reads every IPv4 number form itself (WHATWG URL rules: a host whose last label is a number
   is an IPv4 address, decimal, octal or hex, one to four parts; malformed is refused, never
   handed to a resolver), and IPv6 with or without a zone;
3. resolves names itself (one lookup per hop) and checks EVERY address the name has;
4. returns the checked addresses (`Pinned`): the fetch connects to one of them, never to a
   name, so a second lookup (DNS rebinding) cannot change where it goes.

"Public" is `ipaddress`'s `is_global` plus what it misses (multicast, reserved, 192.0.0.0/24,
3fff::/20 ...), after unwrapping IPv4 addresses carried in IPv6 (mapped, NAT64 64:ff9b::/96,
6to4). Any port is allowed: the gateway's only privilege over its clients is its network
position, and that is what the address check protects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
Classify = Callable[[IPAddress], bool]


class Refused(Exception):
    """A URL the guard will not let the gateway reach; the message says why."""


# Not global, though `is_global` says so on some Python versions (the list grows with RFCs).
_NOT_GLOBAL = (
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("100::/64"),  # discard-only
    ipaddress.ip_network("2001::/23"),  # IETF protocol assignments, Teredo
    ipaddress.ip_network("2001:db8::/32"),  # documentation
    ipaddress.ip_network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.ip_network("5f00::/16"),  # SRv6 SIDs
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and routes to: IPv4-mapped, NAT64, 6to4."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def is_public(ip: IPAddress) -> bool:
    """Whether an address is on the public internet (the default policy)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
        if ip.is_site_local:
            return False
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local:
        return False
    if ip.is_loopback or ip.is_private or any(ip in net for net in _NOT_GLOBAL):
        return False
    return ip.is_global


def is_connectable(ip: IPAddress) -> bool:
    """Any unicast address, loopback and private ones included (`allow_private_addresses`)."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = embedded_ipv4(ip) or ip
    return not (ip.is_multicast or ip.is_unspecified)


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses of a name, from the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_OCTAL = re.compile(r"0[0-7]+")
_NAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?:\.(?!-)[a-z0-9_-]{1,63})*\.?", re.IGNORECASE)


def _ipv4_part(part: str) -> int | None:
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if not (part.isascii() and part.isdigit()):
        return None
    if len(part) > 1 and part[0] == "0":  # octal, as inet_aton and browsers read it
        return int(part, 8) if _OCTAL.fullmatch(part) else None
    return int(part)


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names literally, in any form an HTTP client or the C library
    accepts; None for a name. Raises Refused for a malformed address (never resolved)."""
    if ":" in host:
        text = urllib.parse.unquote(host.removeprefix("[").removesuffix("]"))
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise Refused(f"'{host[:100]}' is not a valid IPv6 address") from None
    labels = host.removesuffix(".").split(".")
    last = labels[-1]
    if not (_HEX.fullmatch(last) or (last.isascii() and last.isdigit())):
        return None
    # Ends in a number: an IPv4 address in one of its forms (WHATWG URL host parsing).
    parts = [_ipv4_part(label) for label in labels]
    valid = [p for p in parts if p is not None]
    if len(labels) > 4 or len(valid) != len(parts):
        raise Refused(f"'{host[:100]}' is not a valid IPv4 address")
    *front, final = valid
    if any(p > 255 for p in front) or final >= 256 ** (4 - len(front)):
        raise Refused(f"'{host[:100]}' is not a valid IPv4 address")
    value = final
    for i, p in enumerate(front):
        value += p << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True)
class Pinned:
    """A URL that passed the guard, and the checked addresses the fetch may connect to."""

    url: yarl.URL
    addresses: tuple[IPAddress, ...]
    literal: bool

    def url_for(self, address: IPAddress) -> yarl.URL:
        """The URL with its host replaced by a checked address: nothing is left to resolve."""
        return self.url.with_host(str(address))

    @property
    def host_header(self) -> str:
        host = str(self.addresses[0]).split("%")[0] if self.literal else self.url.raw_host or ""
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.url.port}" if self.url.explicit_port else host

    @property
    def tls_name(self) -> str | None:
        """The name TLS verifies (SNI and certificate); for an address, the address."""
        return None if self.literal else (self.url.raw_host or "").rstrip(".")


@dataclass(frozen=True)
class UrlGuard:
    """Decides whether a URL may be reached, on the addresses its host resolves to. The
    policy and the resolver are injected (tests use stubs: no real DNS, no real traffic)."""

    allowed: Classify = is_public
    resolve: Resolve = system_resolve

    @classmethod
    def for_documents(cls, allow_private: bool) -> UrlGuard:
        return cls(allowed=is_connectable if allow_private else is_public)

    async def check(self, url: str | yarl.URL) -> Pinned:
        try:
            parsed = url if isinstance(url, yarl.URL) else yarl.URL(url)
        except (ValueError, UnicodeError) as exc:
            raise Refused(f"not a valid URL ({str(exc)[:100]})") from None
        if parsed.scheme not in ("http", "https") or not parsed.raw_host:
            raise Refused(f"only http and https URLs are fetched, not '{str(url)[:100]}'")
        port = parsed.port
        if port is None or not 0 < port < 65536:
            raise Refused(f"port {port} is not a valid port")
        host = parsed.raw_host
        literal = ip_literal(host)
        if literal is not None:
            addresses: tuple[IPAddress, ...] = (literal,)
        elif not _NAME.fullmatch(host) or len(host) > 254:
            raise Refused(f"'{host[:100]}' is not a valid host name")
        else:
            addresses = await self._lookup(host, port)
        for address in addresses:
            if not self.allowed(address):
                shown = host[:100] if literal is not None else f"{host[:100]} ({address})"
                raise Refused(f"{shown} is not a public address")
        return Pinned(parsed, addresses, literal is not None)

    async def _lookup(self, host: str, port: int) -> tuple[IPAddress, ...]:
        try:
            found = await self.resolve(host, port)
        except OSError as exc:
            raise Refused(f"{host[:100]} could not be resolved ({str(exc)[:100]})") from None
        addresses: list[IPAddress] = []
        for text in found:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                raise Refused(f"{host[:100]} resolved to a malformed address") from None
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise Refused(f"{host[:100]} has no addresses")
        return tuple(addresses)
