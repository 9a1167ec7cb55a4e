"""Upstream proxies, as the environment names them (curl's conventions): `HTTPS_PROXY` for https
upstreams, reached through a CONNECT tunnel; `HTTP_PROXY` for http ones, sent the request in
absolute form; `NO_PROXY` for the hosts reached directly. Lower-case names win over upper-case.

The choice is made once per upstream URL (the pool keeps it with the URL's origin): with no proxy
variable set, nothing here runs per request."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_MAX_CONNECT_HEAD = 16 * 1024  # a proxy's answer to CONNECT: a status line and a few headers


class TunnelRefused(ConnectionError):
    """The proxy answered CONNECT with something other than 2xx, or not in HTTP."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization value, from the URL's user:password

    @classmethod
    def parse(cls, url: str, variable: str) -> Proxy:
        """An http:// proxy URL (the scheme may be left out); ValueError names the variable."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http":
            raise ValueError(f"{variable}: only http:// proxies are supported, not {parts.scheme}")
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError(f"{variable}: the port is not a number") from None
        if not parts.hostname:
            raise ValueError(f"{variable}: the URL names no host")
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(parts.hostname, port, auth)

    def __repr__(self) -> str:  # never the credentials
        return f"Proxy({self.host}:{self.port})"

    async def tunnel(self, target: bytes) -> asyncio.Transport:
        """A connection through the proxy to `target` (host:port), once the proxy said yes to
        CONNECT."""
        loop = asyncio.get_running_loop()
        transport, tunnel = await loop.create_connection(_Tunnel, self.host, self.port)
        try:
            head = b"CONNECT %s HTTP/1.1\r\nhost: %s\r\n" % (target, target)
            if self.authorization:
                head += b"proxy-authorization: %s\r\n" % self.authorization.encode()
            transport.write(head + b"\r\n")
            await tunnel.answered
        except BaseException:
            transport.close()
            raise
        return transport


class _Tunnel(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; the TLS connection then takes the transport over."""

    def __init__(self) -> None:
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._head = b""

    def data_received(self, data: bytes) -> None:
        if self.answered.done():
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > _MAX_CONNECT_HEAD:
                self.answered.set_exception(TunnelRefused("the proxy's answer has no end"))
            return
        status = self._head.split(b"\r\n", 1)[0]
        code = status.split(b" ", 2)[1:2]
        if not status.startswith(b"HTTP/1.") or not code or not code[0].startswith(b"2"):
            line = status[:200].decode("latin-1")
            self.answered.set_exception(TunnelRefused(f"the proxy refused the tunnel: {line}"))
        elif end + 4 < len(self._head):  # the upstream speaks only after our TLS hello
            self.answered.set_exception(TunnelRefused("the proxy sent bytes past its answer"))
        else:
            self.answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(
                TunnelRefused("the proxy closed the connection before answering CONNECT")
            )


@dataclass(frozen=True, slots=True)
class Proxies:
    """The proxies to use, and the hosts to reach directly."""

    http: Proxy | None = None
    https: Proxy | None = None
    direct: tuple[str, ...] = ()  # NO_PROXY's entries, lower-case; "*" is every host

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Proxies:
        def var(name: str) -> tuple[str, str] | None:
            for key in (name.lower(), name.upper()):
                if env.get(key, "").strip():
                    return key, env[key].strip()
            return None

        found = {}
        for scheme in ("http", "https"):
            named = var(f"{scheme}_proxy")
            found[scheme] = Proxy.parse(named[1], named[0]) if named else None
        direct = var("no_proxy")
        entries = direct[1].lower().split(",") if direct else []
        return cls(found["http"], found["https"], tuple(e.strip() for e in entries if e.strip()))

    def for_origin(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or _direct(self.direct, host.lower(), port):
            return None
        return proxy


def _direct(entries: tuple[str, ...], host: str, port: int) -> bool:
    """Whether NO_PROXY says to reach host:port directly: `*`; a host name, which also covers
    its subdomains (`example.com`, `.example.com`, `*.example.com`); an IP address or a CIDR
    range (`127.0.0.1`, `10.0.0.0/8`, `::1`); any of these with `:port` to cover one port."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for entry in entries:
        if entry == "*":
            return True
        name, want = _split_port(entry)
        if want is not None and want != port:
            continue
        if ip is not None:
            try:
                if ip in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.removeprefix("*").removeprefix(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address or a name."""
    if entry.startswith("["):
        addr, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return addr, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None
