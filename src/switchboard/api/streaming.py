"""Relaying a stream to the client: one ASGI send per upstream chunk, and an in-stream error
frame for failures after the first byte. The handler runs this under cancel_on_disconnect, so
a client that goes cancels the relay, and the upstream stream is closed at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from switchboard import ir
from switchboard.api.exchange import Exchange
from switchboard.api.report import note_served, note_usage, served_headers
from switchboard.errors import GatewayError, release
from switchboard.log import events as log
from switchboard.service import Gateway, Streaming

Encode = Callable[[list[ir.Event]], bytes]
ErrorFrame = Callable[[GatewayError], bytes]


async def relay(
    ex: Exchange,
    streaming: Streaming,
    encode: Encode,
    error_frame: ErrorFrame,
    extra: list[tuple[bytes, bytes]],
) -> None:
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
    except GatewayError as exc:
        # After the first byte the status is spent: the error travels in the stream, and no
        # retry is possible (the client has part of an answer).
        streaming.broke(exc)
        ex.log["error_type"] = exc.error_type
        ex.log["error"] = exc.message
        try:
            await ex.chunk(error_frame(exc))
            await ex.end_stream()
        finally:
            release(exc)  # the failed stream's frames go with its answer (errors.release)
    finally:
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
    except asyncio.CancelledError:
        # The client went (or shutdown's grace ran out): what was generated was delivered, in
        # part, and is charged. The cancellation is delivered once, so these awaits run.
        note_usage(ex, streaming.usage, await gateway.settle(streaming, failed=False))
        raise
    except BaseException:
        await gateway.settle(streaming, failed=True)
        raise
    cost = await gateway.settle(streaming, failed="error_type" in ex.log)
    note_usage(ex, streaming.usage, cost)
