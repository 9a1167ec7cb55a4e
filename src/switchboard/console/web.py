"""The console's HTTP edges: cookies and forms read, pages, redirects and files written, every
response with the same security headers (strict CSP, no framing, no sniffing, no referrer)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from urllib.parse import parse_qsl, quote

from switchboard.api.exchange import Exchange
from switchboard.errors import InvalidRequest

CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    b"form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")
HTML = b"text/html; charset=utf-8"
MAX_FORM_BYTES = 64 * 1024


def cookies(ex: Exchange) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in ex.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name and name not in out:
            out[name] = value
    return out


def client_address(ex: Exchange) -> str:
    transport = ex.conn.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


def query(ex: Exchange) -> dict[str, str]:
    return {k: v[:500] for k, v in parse_qsl(ex.query)}


async def form(ex: Exchange) -> dict[str, str]:
    if not ex.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("content-type: a form must be application/x-www-form-urlencoded")
    body = await ex.body(MAX_FORM_BYTES, 30)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("body: a form must be UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def cookie_header(name: str, value: str, max_age: int, secure: bool) -> tuple[bytes, bytes]:
    flags = f"; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    if secure:
        flags += "; Secure"
    return (b"set-cookie", f"{name}={value}{flags}".encode("ascii"))


def served_over_tls(ex: Exchange) -> bool:
    # Only ever adds Secure to a cookie, so trusting a client-sent header here costs nothing.
    return ex.headers.get("x-forwarded-proto", "").lower() == "https"


async def page(
    ex: Exchange, status: int, html: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [*SECURITY_HEADERS, NO_STORE, *(extra or [])]
    await ex.respond(status, html.encode("utf-8"), headers, content_type=HTML)


async def redirect(
    ex: Exchange, location: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    # Only paths of our own: the location is built here, never taken from the request whole.
    target = quote(location, safe="/?=&%-_.~")
    headers = [*SECURITY_HEADERS, NO_STORE, (b"location", target.encode("ascii")), *(extra or [])]
    await ex.respond(303, b"", headers, content_type=b"text/plain; charset=utf-8")


async def download(ex: Exchange, body: bytes, filename: str, content_type: bytes) -> None:
    headers = [
        *SECURITY_HEADERS,
        NO_STORE,
        (b"content-disposition", f'attachment; filename="{filename}"'.encode("ascii")),
    ]
    await ex.respond(200, body, headers, content_type=content_type)


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: bytes


class StaticFiles:
    """The package's static/ directory, read once at start: a fixed set of files, so a path
    from the request only ever selects one of them."""

    def __init__(self) -> None:
        root = resources.files("switchboard.console").joinpath("static")
        self._files: dict[str, StaticFile] = {}
        self._walk(root, "")

    def _walk(self, folder: Traversable, prefix: str) -> None:
        for item in folder.iterdir():
            name = prefix + item.name
            if item.is_dir():
                self._walk(item, name + "/")
            else:
                kind = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind == "application/javascript":
                    kind += "; charset=utf-8"
                self._files[name] = StaticFile(item.read_bytes(), kind.encode("ascii"))

    async def serve(self, ex: Exchange, name: str) -> bool:
        found = self._files.get(name)
        if found is None:
            return False
        headers = [*SECURITY_HEADERS, (b"cache-control", b"public, max-age=300")]
        await ex.respond(200, found.body, headers, content_type=found.content_type)
        return True
