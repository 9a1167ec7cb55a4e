"""The upstream client at the network's edges, on loopback only: a request is never sent twice,
connections per origin are capped (more requests wait), proxies from the environment (a
CONNECT tunnel for https, absolute form for http, NO_PROXY), and a CA bundle of the operator's.

The proxy here is a tiny one on 127.0.0.1 that relays to 127.0.0.1 only (it refuses any other
target), and every client is given its environment explicitly: nothing leaves the machine."""

from __future__ import annotations

import asyncio
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme
import uvloop

from switchboard.config import ConfigError, ProviderConfig, Upstreams, parse_config
from switchboard.errors import UpstreamError
from switchboard.kinds import ProviderKind
from switchboard.redact import Redactor
from switchboard.upstreams.connection import ConnectionFailed, Deadlines, ReplyTimeout
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.pool import Pool
from tests.support.raw_http import FAST, OK, Server, body_of, on_loop, read_request

UP = ProviderConfig(name="up", kind=ProviderKind.OPENAI)


def on_uvloop(case: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The same, on uvloop: the loop the gateway runs on (its transports differ)."""

    def run() -> None:
        uvloop.run(asyncio.wait_for(case(), 20))

    run.__name__ = f"{case.__name__}_on_uvloop"
    return run


async def until(done: Callable[[], object]) -> None:
    """Polls: what it waits for happens inside servers that have no event to set."""
    while not done():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def fetch(http: HttpClient, url: str) -> bytes:
    resp = await http.post(UP, url, b'{"q": 1}', {}, bytes.decode, stream=False)
    return await HttpClient.read(UP, resp)


def answers_each() -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            await read_request(r)
            w.write(OK)
            await w.drain()

    return handler


# --- a request is sent once ---------------------------------------------------------------------


@on_loop
async def test_a_post_the_upstream_received_is_not_sent_again() -> None:
    bodies: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            bodies.append((await read_request(r)).partition(b"\r\n\r\n")[2])
            if len(bodies) > 1:
                return  # it read the request, then died without a word: did it act on it?
            w.write(OK)
            await w.drain()

    async with Server(handler) as srv:
        pool = Pool()
        assert await body_of(await pool.request(srv.url, {}, b"one", FAST)) == b"{}"
        with pytest.raises(ConnectionFailed, match="closed the connection"):
            await pool.request(srv.url, {}, b"two", FAST)
        pool.close()
    assert bodies == [b"one", b"two"]
    assert srv.connections == 1


def idle_close_case() -> Callable[[], Coroutine[Any, Any, None]]:
    async def case() -> None:
        heard_after_fin: list[bytes] = []
        first: list[asyncio.StreamWriter] = []

        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            while True:
                await read_request(r)
                w.write(OK)
                await w.drain()
                if not first:
                    first.append(w)
                    heard_after_fin.append(await r.read())  # until the client closes it
                    return

        async with Server(handler) as srv:
            pool = Pool()
            assert await body_of(await pool.request(srv.url, {}, b"a", FAST)) == b"{}"
            await until(lambda: first)
            # The upstream ends the idle connection (its keep-alive timeout, a restart): the
            # FIN reaches our socket, and the request comes before the event loop noticed.
            fd = first[0].get_extra_info("socket").fileno()
            with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:  # a dup
                sock.shutdown(socket.SHUT_WR)
            time.sleep(0.05)  # noqa: ASYNC251 - blocking on purpose: the loop must not run
            assert await body_of(await pool.request(srv.url, {}, b"b", FAST)) == b"{}"
            await until(lambda: heard_after_fin)
            pool.close()
        assert heard_after_fin == [b""]  # nothing was written to the closed connection
        assert srv.connections == 2

    return case


test_an_idle_connection_the_upstream_closed_is_not_written_to = on_loop(idle_close_case())
test_an_idle_connection_the_upstream_closed_is_not_written_to_on_uvloop = on_uvloop(
    idle_close_case()
)


# --- at most so many connections per origin ---------------------------------------------------


@on_loop
async def test_requests_over_the_cap_wait_for_a_connection_and_get_it() -> None:
    release = asyncio.Event()
    open_now = most = 0

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            while True:
                await read_request(r)
                w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
                await w.drain()
                await release.wait()
                w.write(b"{}")
                await w.drain()
        finally:
            open_now -= 1

    async with Server(handler) as srv:
        pool = Pool(max_per_origin=2)

        async def call(n: int) -> bytes:
            return await body_of(await pool.request(srv.url, {}, b"%d" % n, FAST))

        calls = [asyncio.create_task(call(n)) for n in range(3)]
        await asyncio.sleep(0.3)
        assert [c.done() for c in calls] == [False] * 3
        assert srv.connections == 2  # the third waits, not opens
        release.set()
        assert await asyncio.gather(*calls) == [b"{}"] * 3
        pool.close()
    assert (srv.connections, most) == (2, 2)  # the third went on a released connection


@on_loop
async def test_a_closed_connection_frees_its_place_and_a_wait_ends_at_the_deadline() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n")
        await w.drain()
        await r.read()  # a stream that runs until the client leaves

    async with Server(handler) as srv:
        pool = Pool(max_per_origin=1)
        first = await pool.request(srv.url, {}, b"", FAST)
        waiting = asyncio.create_task(pool.request(srv.url, {}, b"", FAST))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        first.close()  # the client of the first stream left
        second = await waiting
        assert await second.chunk() == b"a"
        short = Deadlines(connect=1, first_byte=0.3, idle=1, total=None)
        started = time.monotonic()
        with pytest.raises(ReplyTimeout, match=r"waiting for a free connection \(1 open"):
            await pool.request(srv.url, {}, b"", short)
        assert 0.25 < time.monotonic() - started < 1.5
        second.close()
        pool.close()
    assert srv.connections == 2


# --- proxies ------------------------------------------------------------------------------------


class TinyProxy:
    """CONNECT tunnels and absolute-form forwarding, to 127.0.0.1 only; records each request
    head it got and the bytes it relayed towards the upstream."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.relayed = b""
        self.relaying = 0  # connections open

    async def __call__(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if method == b"CONNECT":
            host, _, port = target.rpartition(b":")
        else:
            url = urlsplit(target.decode())
            host, port = (url.hostname or "").encode(), b"%d" % (url.port or 80)
            target_path = url.path + (f"?{url.query}" if url.query else "")
            head = head.replace(target, target_path.encode(), 1)
        if host != b"127.0.0.1":  # this proxy reaches nothing but loopback
            w.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        up_r, up_w = await asyncio.open_connection("127.0.0.1", int(port))
        if method == b"CONNECT":
            w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            up_w.write(head)
        self.relaying += 1
        try:
            await asyncio.gather(self._pipe(r, up_w, record=True), self._pipe(up_r, w))
        finally:
            up_w.close()
            self.relaying -= 1

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, record: bool = False
    ) -> None:
        while data := await src.read(65536):
            if record:
                self.relayed += data
            dst.write(data)
            await dst.drain()
        dst.close()


@on_loop
async def test_an_http_upstream_is_reached_through_http_proxy_in_absolute_form() -> None:
    proxy = TinyProxy()
    async with Server(answers_each()) as up, Server(proxy) as px:
        env = {"HTTP_PROXY": f"http://user:p%40ss@127.0.0.1:{px.port}", "NO_PROXY": ""}
        http = HttpClient(Redactor(), env=env)
        await http.start()
        assert await fetch(http, up.url) == b"{}"
        assert await fetch(http, up.url) == b"{}"  # kept alive through the proxy
        await http.close()
        await until(lambda: not proxy.relaying)
        port = up.port
    assert len(proxy.heads) == 1
    line, _, headers = proxy.heads[0].partition(b"\r\n")
    assert line == b"POST http://127.0.0.1:%d/v1/chat?x=1 HTTP/1.1" % port
    assert b"\r\nproxy-authorization: Basic dXNlcjpwQHNz\r\n" in b"\r\n" + headers  # user:p@ss
    assert up.connections == 1


@on_loop
async def test_no_proxy_sends_matching_hosts_direct() -> None:
    proxy = TinyProxy()
    async with Server(answers_each()) as up, Server(proxy) as px:
        for direct in ("localhost,127.0.0.1", "127.0.0.0/8", f"127.0.0.1:{up.port}", "*"):
            proxy_url = f"http://127.0.0.1:{px.port}"
            env = {"http_proxy": proxy_url, "no_proxy": f"example.com, {direct}"}
            http = HttpClient(Redactor(), env=env)
            await http.start()
            assert await fetch(http, up.url) == b"{}"
            await http.close()
    assert proxy.heads == []
    assert up.connections == 4


@contextmanager
def self_signed() -> Iterator[tuple[ssl.SSLContext, str]]:
    """A TLS context for a server on 127.0.0.1 whose CA nobody trusts, and that CA's file."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        yield server, str(path)


def tunnel_case() -> Callable[[], Coroutine[Any, Any, None]]:
    async def case() -> None:
        proxy = TinyProxy()
        with self_signed() as (server_tls, ca_file):
            async with Server(answers_each(), tls=server_tls) as up, Server(proxy) as px:
                env = {"HTTPS_PROXY": f"127.0.0.1:{px.port}"}  # the scheme may be left out
                http = HttpClient(Redactor(), Upstreams(ca_bundle=ca_file), env=env)
                await http.start()
                assert await fetch(http, up.url) == b"{}"
                assert await fetch(http, up.url) == b"{}"
                await http.close()
                await until(lambda: not proxy.relaying)
                port = up.port
        assert len(proxy.heads) == 1
        assert proxy.heads[0].startswith(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n" % port)
        assert proxy.relayed.startswith(b"\x16\x03")  # a TLS handshake record
        assert b"POST" not in proxy.relayed  # the proxy relayed TLS, and saw no request

    return case


test_an_https_upstream_is_reached_through_a_connect_tunnel = on_loop(tunnel_case())
test_an_https_upstream_is_reached_through_a_connect_tunnel_on_uvloop = on_uvloop(tunnel_case())


@on_loop
async def test_a_proxy_that_refuses_or_is_down_is_a_connection_failure() -> None:
    async def refuses(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
        await w.drain()

    async with Server(refuses) as px:
        http = HttpClient(Redactor(), env={"HTTPS_PROXY": f"http://127.0.0.1:{px.port}"})
        await http.start()
        with pytest.raises(UpstreamError, match=r"the proxy refused the tunnel: HTTP/1.1 407"):
            await fetch(http, "https://127.0.0.1:9/v1/chat")
        await http.close()
    http = HttpClient(Redactor(), env={"HTTPS_PROXY": "http://127.0.0.1:9"})
    await http.start()
    with pytest.raises(UpstreamError, match=r"through the proxy 127.0.0.1:9") as err:
        await fetch(http, "https://127.0.0.1:9/v1/chat")
    assert err.value.status == 502
    await http.close()


# --- the CAs trusted ----------------------------------------------------------------------------


@on_loop
async def test_a_ca_bundle_from_the_config_or_the_environment_is_trusted() -> None:
    with self_signed() as (server_tls, ca_file):
        async with Server(answers_each(), tls=server_tls) as up:
            http = HttpClient(Redactor(), env={})
            await http.start()
            with pytest.raises(UpstreamError, match="CERTIFICATE_VERIFY_FAILED"):
                await fetch(http, up.url)
            await http.close()
            for settings, env in (
                (Upstreams(ca_bundle=ca_file), {}),
                (Upstreams(), {"REQUESTS_CA_BUNDLE": ca_file}),
            ):
                http = HttpClient(Redactor(), settings, env=env)
                await http.start()
                assert await fetch(http, up.url) == b"{}"
                await http.close()


def test_the_config_checks_the_bundle_the_cap_and_the_proxy_variables(tmp_path: Path) -> None:
    def load(data: dict[str, Any], env: dict[str, str] | None = None) -> None:
        parse_config(data, "sb.yaml", env or {})

    with pytest.raises(ConfigError, match=r"upstreams.ca_bundle: cannot read .*missing.pem"):
        load({"upstreams": {"ca_bundle": str(tmp_path / "missing.pem")}})
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"upstreams.ca_bundle: .*holds no PEM certificate"):
        load({"upstreams": {"ca_bundle": str(tmp_path / "junk.pem")}})
    with pytest.raises(ConfigError, match=r"upstreams.max_connections_per_origin: must be at"):
        load({"upstreams": {"max_connections_per_origin": 0}})
    with pytest.raises(ConfigError, match=r"HTTPS_PROXY: only http:// proxies are supported"):
        load({}, {"HTTPS_PROXY": "socks5://127.0.0.1:1080"})
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    load({"upstreams": {"ca_bundle": str(tmp_path / "ca.pem")}}, {"NO_PROXY": "*"})
