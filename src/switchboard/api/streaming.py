"""Relaying a stream to the client: one ASGI send per upstream chunk, and an in-stream error
frame for failures after the first byte. The handler runs this under cancel_on_disconnect, so
a client that goes cancels the relay, and the upstream stream is closed at once.

What translation drops once the head is sent goes into the stream as an SSE comment before
its end (`message_stop`, `[DONE]`): every SSE client skips comments, and the request's
record gets it too (hence the log line and the ledger).

A surface whose clients do not read SSE (Bedrock's event-stream framing) passes a `Framing`:
the dialect's SSE bytes, encoded or relayed, are rewrapped just before they are sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from switchboard import ir
from switchboard.api.exchange import SSE, Exchange
from switchboard.api.report import dropped_comment, served_headers
from switchboard.errors import GatewayError, release
from switchboard.log import events as log
from switchboard.pipeline import Streaming
from switchboard.record import FAILED, Cut, Served, Settlement
from switchboard.service import Gateway

Encode = Callable[[list[ir.Event]], bytes]
ErrorFrame = Callable[[GatewayError], bytes]


@dataclass(frozen=True, slots=True)
class Framing:
    """How a stream goes on the wire when not as SSE: its content type, and what rewraps the
    SSE bytes (stateful: one per stream; it may hold an event cut between chunks)."""

    content_type: bytes
    wrap: Callable[[bytes], bytes]


def _unwrapped(data: bytes) -> bytes:
    return data


SSE_FRAMING = Framing(SSE, _unwrapped)


async def relay(
    ex: Exchange,
    streaming: Streaming,
    encode: Encode,
    error_frame: ErrorFrame,
    framing: Framing = SSE_FRAMING,
) -> Settlement:
    """Send the stream; how it ended, for settlement. A client that goes raises
    `CancelledError` (with `streaming.delivered` chunks sent)."""
    record = streaming.record
    wrap = framing.wrap
    notes = streaming.notes
    shown = len(notes)  # noticed before the head: in its `switchboard-dropped` header
    if shown:
        record.dropped += notes
    try:
        await ex.start_stream(served_headers(record), framing.content_type)
        item = streaming.first
        await ex.chunk(wrap(item if isinstance(item, bytes) else encode(item)))
        streaming.delivered = 1
        record.ttft_ms = ex.elapsed_ms()
        async for item in streaming.rest:
            if isinstance(item, bytes):
                data = item
            elif len(notes) > shown and item and isinstance(item[-1], ir.MessageStop):
                # The stream's end: what was dropped since the head, just before it.
                late = notes[shown:]
                shown = len(notes)
                record.dropped += late
                data = encode(item[:-1]) + dropped_comment(late) + encode(item[-1:])
            else:
                data = encode(item)
            data = wrap(data)
            if data:
                await ex.chunk(data)
                streaming.delivered += 1
        await ex.end_stream()
        return Served(streaming.usage)
    except GatewayError as exc:
        # After the first byte the status is spent: the error travels in the stream, and no
        # retry is possible (the client has part of an answer).
        streaming.broke(exc)
        record.error_type = exc.error_type
        record.error = exc.message
        try:
            await ex.chunk(error_frame(exc))
            await ex.end_stream()
        finally:
            release(exc)  # the failed stream's frames go with its answer (errors.release)
        return FAILED
    finally:
        if len(notes) > shown:  # a stream cut or failed before its end: the record has it
            record.dropped += notes[shown:]
        started = time.perf_counter()
        await streaming.source.aclose()
        if time.perf_counter() - started > 1:
            log.warning("closing an upstream stream took over a second")


async def serve_stream(
    ex: Exchange,
    gateway: Gateway,
    streaming: Streaming,
    encode: Encode,
    error_frame: ErrorFrame,
    framing: Framing = SSE_FRAMING,
) -> None:
    """Relay, then settle: a stream the client cut pays for what was generated, one that failed
    pays nothing."""
    record = streaming.record
    try:
        outcome = await relay(ex, streaming, encode, error_frame, framing)
    except asyncio.CancelledError:
        # The client went (or shutdown's grace ran out): what was generated was delivered, in
        # part, and is charged. The cancellation is delivered once, so these awaits run.
        record.usage = streaming.usage
        await gateway.settle(streaming, Cut(streaming.usage, streaming.delivered))
        raise
    except BaseException:
        await gateway.settle(streaming, FAILED)
        raise
    record.usage = streaming.usage
    await gateway.settle(streaming, outcome)
