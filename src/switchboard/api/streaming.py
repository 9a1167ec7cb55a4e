"""Relaying a stream to the client: one ASGI send per upstream chunk, and an in-stream error
frame for failures after the first byte. The handler runs this under cancel_on_disconnect, so
a client that goes cancels the relay, and the upstream stream is closed at once."""

from __future__ import annotations

import time
from collections.abc import Callable

from switchboard import ir
from switchboard.api.asgi import Exchange
from switchboard.errors import GatewayError
from switchboard.log import events as log
from switchboard.service import Streaming

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
        await ex.chunk(error_frame(exc))
        await ex.end_stream()
    finally:
        started = time.perf_counter()
        await streaming.source.aclose()
        if time.perf_counter() - started > 1:
            log.warning("closing an upstream stream took over a second")
