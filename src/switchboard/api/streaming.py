"""Relaying a stream to the client: one ASGI send per upstream chunk, an in-stream error frame
for failures after the first byte, and cancellation of the upstream the moment the client goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from switchboard import ir
from switchboard.api.asgi import Exchange
from switchboard.api.report import note_served, note_usage, served_headers
from switchboard.errors import GatewayError
from switchboard.log import events as log
from switchboard.service import Gateway, Streaming

Encode = Callable[[list[ir.Event]], bytes]
ErrorFrame = Callable[[GatewayError], bytes]


async def _watch_disconnect(ex: Exchange, task: asyncio.Task[None], gone: asyncio.Event) -> None:
    while True:
        message = await ex.receive()
        if message["type"] == "http.disconnect":
            gone.set()
            task.cancel()
            return


async def relay(
    ex: Exchange,
    streaming: Streaming,
    encode: Encode,
    error_frame: ErrorFrame,
    extra: list[tuple[bytes, bytes]],
) -> None:
    task = asyncio.current_task()
    assert task is not None
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch_disconnect(ex, task, gone))
    try:
        await ex.start_stream(extra)
        item = streaming.first
        await ex.chunk(item if isinstance(item, bytes) else encode(item))
        ex.log["ttft_ms"] = ex.elapsed_ms()
        async for item in streaming.rest:
            data = item if isinstance(item, bytes) else encode(item)
            if data:
                await ex.chunk(data)
        await ex.end_stream()
    except asyncio.CancelledError:
        if not gone.is_set():
            raise
        task.uncancel()
        ex.log["client_disconnected"] = True
    except GatewayError as exc:
        # After the first byte the status is spent: the error travels in the stream.
        ex.log["error_type"] = exc.error_type
        ex.log["error"] = exc.message
        await ex.chunk(error_frame(exc))
        await ex.end_stream()
    finally:
        watcher.cancel()
        started = time.perf_counter()
        await streaming.source.aclose()
        if time.perf_counter() - started > 1:
            log.warning("closing an upstream stream took over a second")


async def serve_stream(
    ex: Exchange, gateway: Gateway, streaming: Streaming, encode: Encode, error_frame: ErrorFrame
) -> None:
    """Relay, then settle: a stream the client cut pays for what was generated, one that failed
    pays nothing."""
    note_served(ex, streaming.served)
    try:
        await relay(ex, streaming, encode, error_frame, served_headers(streaming.served))
    except BaseException:
        await gateway.settle(streaming, failed=True)
        raise
    cost = await gateway.settle(streaming, failed="error_type" in ex.log)
    note_usage(ex, streaming.usage, cost)
