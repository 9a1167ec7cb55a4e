"""The upstream HTTP/1.1 client against real sockets on loopback: servers written with asyncio
streams that send exactly the bytes a test needs, including the awkward ones."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from switchboard.upstreams.connection import (
    ConnectionFailed,
    Deadlines,
    Origin,
    ReplyTimeout,
    request_head,
)
from switchboard.upstreams.pool import Pool
from tests.support.raw_http import FAST, OK, Server, body_of, on_loop, read_request, replies


@on_loop
async def test_requests_share_a_kept_alive_connection_and_send_what_was_asked() -> None:
    seen: list[bytes] = []

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(r))
            w.write(OK)

    async with Server(handler) as srv:
        pool = Pool()
        for _ in range(3):
            reply = await pool.request(srv.url, {"authorization": "Bearer k"}, b"[1]", FAST)
            assert (reply.status, reply.content_type) == (200, "application/json")
            assert await body_of(reply) == b"{}"
        pool.close()
    assert srv.connections == 1
    head, _, body = seen[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/chat?x=1 HTTP/1.1\r\n")
    assert b"\r\nauthorization: Bearer k" in head
    assert b"\r\ncontent-length: 3" in head
    assert body == b"[1]"


@on_loop
async def test_a_connection_the_upstream_closed_while_idle_is_replaced_transparently() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(OK)
        await w.drain()  # then close: a keep-alive timeout on the upstream's side

    async with Server(handler) as srv:
        pool = Pool()
        assert await body_of(await pool.request(srv.url, {}, b"a", FAST)) == b"{}"
        await asyncio.sleep(0.05)
        assert await body_of(await pool.request(srv.url, {}, b"b", FAST)) == b"{}"
        pool.close()
    assert srv.connections == 2


@on_loop
async def test_chunked_gzip_and_close_delimited_bodies() -> None:
    text = b'{"a": "' + bytes(range(256)) * 40 + b'"}'
    packed = gzip.compress(text)
    half = len(packed) // 2
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-encoding: gzip\r\n\r\n"
    chunked += b"%x\r\n%s\r\n" % (half, packed[:half])
    chunked += b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed) - half, packed[half:])

    async with Server(replies(chunked)) as srv:
        pool = Pool()
        assert await body_of(await pool.request(srv.url, {}, b"", FAST)) == text
        pool.close()

    async def until_close(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n")
        await w.drain()
        await asyncio.sleep(0.05)
        w.write(b"data: 2\n\n")

    async with Server(until_close) as srv:
        pool = Pool()
        reply = await pool.request(srv.url, {}, b"", FAST)
        assert await body_of(reply) == b"data: 1\n\ndata: 2\n\n"
        pool.close()


@on_loop
async def test_a_large_body_arrives_intact_under_back_pressure() -> None:
    big = bytes(range(256)) * (12 * 1024)  # 3 MiB: over the read-ahead limit
    reply_bytes = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(big), big)
    async with Server(replies(reply_bytes)) as srv:
        pool = Pool()
        reply = await pool.request(srv.url, {}, b"", FAST)
        await asyncio.sleep(0.2)  # let the upstream fill what we buffer before reading
        assert await body_of(reply) == big
        pool.close()


@on_loop
async def test_deadlines_name_the_phase_that_ran_out() -> None:
    short = Deadlines(connect=1, first_byte=0.2, idle=0.2, total=0.6)

    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        await asyncio.sleep(2)

    async with Server(silent) as srv:
        with pytest.raises(ReplyTimeout, match="waiting for the first byte"):
            await Pool().request(srv.url, {}, b"", short)
        # The total bounds the wait for the head as well.
        with pytest.raises(ReplyTimeout, match="waiting for the first byte"):
            await Pool().request(srv.url, {}, b"", Deadlines(1, first_byte=5, idle=5, total=0.3))

    async def stalls(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345")
        await w.drain()
        await asyncio.sleep(2)

    async with Server(stalls) as srv:
        reply = await Pool().request(srv.url, {}, b"", short)
        assert await reply.chunk() == b"12345"
        with pytest.raises(ReplyTimeout, match="idle between chunks"):
            await reply.chunk()

    async def trickles(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
        for _ in range(100):
            await asyncio.sleep(0.05)  # never idle for long, but never done either
            w.write(b"x")

    async with Server(trickles) as srv:
        reply = await Pool().request(srv.url, {}, b"", short)
        with pytest.raises(ReplyTimeout, match="reading the reply"):
            await body_of(reply)


@on_loop
async def test_broken_replies_are_connection_failures() -> None:
    async def cut(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await w.drain()  # and close, 91 bytes short

    async with Server(cut) as srv:
        reply = await Pool().request(srv.url, {}, b"", FAST)
        with pytest.raises(ConnectionFailed, match="closed the connection"):
            await body_of(reply)

    async with Server(replies(b"NOT HTTP AT ALL\r\n\r\n")) as srv:
        with pytest.raises(ConnectionFailed, match="not valid HTTP"):
            await Pool().request(srv.url, {}, b"", FAST)

    with pytest.raises(ConnectionFailed, match="cannot connect"):
        await Pool().request("http://127.0.0.1:9/", {}, b"", FAST)


@on_loop
async def test_abandoning_a_reply_closes_its_connection() -> None:
    closed = asyncio.Event()

    async def streams(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await w.drain()
        await r.read()  # returns when the client closes
        closed.set()

    async with Server(streams) as srv:
        reply = await Pool().request(srv.url, {}, b"", FAST)
        assert await reply.chunk() == b"abc"
        reply.close()
        await asyncio.wait_for(closed.wait(), 2)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-beta", "a\rb"),
        ("x-beta", "a\nb"),
        ("x-beta", "a\r\nhost: evil"),
        ("x-be\nta", "a"),
        ("x-beta\r", "a"),
    ],
)
def test_no_header_line_carries_a_lone_or_paired_cr_or_lf(name: str, value: str) -> None:
    origin = Origin.parse("http://127.0.0.1:9/v1/chat")
    clean = {"content-type": "application/json", "authorization": "Bearer k"}
    assert request_head(origin, clean, 2) == (
        b"POST /v1/chat HTTP/1.1\r\nhost: 127.0.0.1:9\r\ncontent-length: 2\r\n"
        b"accept-encoding: gzip, deflate\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer k\r\n\r\n"
    )
    with pytest.raises(ValueError, match="line break"):
        request_head(origin, {**clean, name: value}, 2)


@on_loop
async def test_header_values_cannot_smuggle_a_line_break() -> None:
    async with Server(replies(OK)) as srv:
        with pytest.raises(ValueError, match="line break"):
            await Pool().request(srv.url, {"x-beta": "a\r\nhost: evil"}, b"", FAST)
