"""What every connection of the upstream HTTP/1.1 client (pool.py, reply.py) shares: where a
URL's requests go (`Origin`: the pool key, the request line's target, the proxy on the way), the
deadlines a request is held to, the two ways it fails, and the head written for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from switchboard.upstreams.proxy import Proxies, Proxy


class ConnectionFailed(Exception):
    """The connection could not be opened or broke; the message says how."""


class ReplyTimeout(Exception):
    """A deadline passed; the message names the phase: connecting, waiting for the first
    byte, idle between chunks, reading the reply."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    connect: float
    first_byte: float
    idle: float
    total: float | None  # a whole call; None for streams


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL's requests go: the pool key, the request line's target, and the proxy (if
    any) on the way. Through an http proxy the target is the absolute URL."""

    scheme: str
    host: str
    port: int
    path: bytes
    host_header: bytes
    key: str  # scheme://host:port
    proxy: Proxy | None = None
    extra: bytes = b""  # header lines every request carries: the http proxy's credentials

    @classmethod
    def parse(cls, url: str, proxies: Proxies | None = None) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectionFailed(f"not an http(s) URL: {url[:200]}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ConnectionFailed(f"the URL's port is not a number: {url[:200]}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = port == (443 if parts.scheme == "https" else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        host_header = (host if default else f"{host}:{port}").encode("idna")
        key = f"{parts.scheme}://{host}:{port}"
        proxy = proxies.for_origin(parts.scheme, parts.hostname, port) if proxies else None
        target, extra = path.encode(), b""
        if proxy is not None and parts.scheme == "http":
            target = b"http://" + host_header + target  # absolute form, for the proxy
            if proxy.authorization:
                extra = b"\r\nproxy-authorization: " + proxy.authorization.encode()
        return cls(parts.scheme, parts.hostname, port, target, host_header, key, proxy, extra)

    @property
    def authority(self) -> bytes:
        """host:port, as CONNECT names it."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return host.encode("idna") + b":%d" % self.port


def request_head(origin: Origin, headers: Mapping[str, str], length: int) -> bytes:
    lines = "".join([f"\r\n{name}: {value}" for name, value in headers.items()])
    # Each header brings the one CRLF before it: any other CR or LF is in a name or a value
    # (counted in C, not four searches per header).
    if lines.count("\r") != len(headers) or lines.count("\n") != len(headers):
        name = next(n for n, v in headers.items() if "\r" in n + v or "\n" in n + v)
        raise ValueError(f"header {name!r} has a line break in it")
    return b"".join(
        (
            b"POST ",
            origin.path,
            b" HTTP/1.1\r\nhost: ",
            origin.host_header,
            b"\r\ncontent-length: %d\r\naccept-encoding: gzip, deflate" % length,
            origin.extra,
            lines.encode("latin-1", "replace"),
            b"\r\n\r\n",
        )
    )
