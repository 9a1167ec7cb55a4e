"""What an upstream can make the gateway hold: a reply that inflates without end, or a stream
event that never ends, fails the call at its bound instead of growing the gateway's memory."""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib

import pytest

from switchboard.config import ProviderConfig
from switchboard.errors import UpstreamError
from switchboard.kinds import ProviderKind
from switchboard.redact import Redactor
from switchboard.upstreams.http import EventSource, HttpClient
from tests.support.raw_http import MiB, Server, gzip_bomb, on_loop, read_request


def provider(max_reply_bytes: int = 64 * MiB, max_event_bytes: int = 16 * MiB) -> ProviderConfig:
    return ProviderConfig(
        name="up",
        kind=ProviderKind.OPENAI,
        max_reply_bytes=max_reply_bytes,
        max_event_bytes=max_event_bytes,
    )


async def read_all(source: EventSource) -> None:
    while await source.read() is not None:
        pass


def test_the_bomb_is_what_it_claims() -> None:
    bomb = gzip_bomb(4)
    assert len(bomb) < 8 * 1024
    assert zlib.decompress(bomb, 16 + zlib.MAX_WBITS) == bytes(4 * MiB)


@on_loop
async def test_a_gzip_bomb_fails_at_the_reply_limit_and_is_not_inflated_further() -> None:
    bomb = gzip_bomb(1024)  # 1 MiB on the wire, 1 GiB inflated

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_request(r)
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(bomb), bomb)
        )
        await w.drain()
        await r.read()

    http = HttpClient(Redactor(), env={})
    await http.start()
    up = provider(max_reply_bytes=8 * MiB)
    async with Server(serve) as srv:
        tracemalloc.start()
        try:
            resp = await http.post(up, srv.url, b"{}", {}, bytes.decode, stream=False)
            with pytest.raises(UpstreamError, match="larger than the 8388608-byte limit") as err:
                await HttpClient.read(up, resp)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    await http.close()
    assert err.value.status == 502
    # What was inflated: the 8 MiB the limit lets through and a step, not the gigabyte (nor
    # what one read of the bomb inflates to: 256 KiB of it is 256 MiB).
    assert peak < 16 * MiB, f"{peak / MiB:.0f} MiB allocated"


@on_loop
async def test_a_gzipped_reply_under_the_limit_arrives_whole() -> None:
    body = b'{"text": "' + b"abc" * 2_000_000 + b'"}'  # 6 MiB, over a read-ahead step

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        packed = zlib.compress(body)  # `deflate` is zlib-wrapped
        await read_request(r)
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: %d\r\n\r\n%s"
            % (len(packed), packed)
        )
        await w.drain()
        await r.read()

    http = HttpClient(Redactor(), env={})
    await http.start()
    async with Server(serve) as srv:
        resp = await http.post(provider(), srv.url, b"{}", {}, bytes.decode, stream=False)
        assert await HttpClient.read(provider(), resp) == body
    await http.close()


@on_loop
async def test_a_stream_event_that_never_ends_fails_at_the_event_limit() -> None:
    sent = 0
    line = b"data: " + b"x" * (64 * 1024 - 7) + b"\n"  # 64 KiB lines, never a blank one

    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
        while sent < 64 * MiB:  # the test's bound on "forever"
            w.write(line)
            sent += len(line)
            await w.drain()

    http = HttpClient(Redactor(), env={})
    await http.start()
    up = provider(max_event_bytes=MiB)
    async with Server(serve) as srv:
        resp = await http.post(up, srv.url, b"{}", {}, bytes.decode, stream=True)
        source = EventSource(up, resp)
        with pytest.raises(UpstreamError, match="an event is larger than the 1048576-byte limit"):
            await read_all(source)
        source.close()
    await http.close()
    # The gateway stopped reading at the limit: the upstream could send only what the
    # sockets' buffers held beyond it.
    assert sent < 16 * MiB
