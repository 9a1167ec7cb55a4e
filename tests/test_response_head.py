"""The one place response headers are written (Exchange._head), the loss report's header
(api/report.py), and the error boundaries' release of a failed request's frames: unit tests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Iterator

import httptools
import pytest

from switchboard.api.exchange import Exchange, safe_header
from switchboard.api.report import MAX_DROPPED_BYTES, dropped_header
from switchboard.errors import UpstreamError, release


class Wire:
    """The connection as an Exchange sees it: what was written, in order."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def done(self, ex: Exchange) -> None:
        pass


class Head:
    """The responses httptools reads from those bytes."""

    def __init__(self, data: bytes) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.bodies: list[bytes] = []
        parser = httptools.HttpResponseParser(self)
        parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        self.bodies.append(b"")


def respond(extra: list[tuple[bytes, bytes]]) -> Head:
    wire = Wire()
    ex = Exchange(wire, "GET", "/", "", {}, keep_alive=True)  # type: ignore[arg-type]
    ex.body_complete = True
    asyncio.run(ex.respond(200, b"{}", extra))
    return Head(wire.data)


def test_a_value_with_control_bytes_cannot_end_the_head() -> None:
    head = respond(
        [
            (b"x-a", b"ok\r\nset-cookie: a=b\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
            (b"x-b", b"nul\x00 bell\x07 del\x7f lf\n"),
            (b"x-c", b"tab\tand obs-text \xe9 stay"),
        ]
    )
    assert len(head.bodies) == 1  # one response, whole
    extra = dict(head.headers)
    assert extra[b"x-a"] == b"ok%0D%0Aset-cookie: a=b%0D%0A%0D%0AHTTP/1.1 200 OK%0D%0A%0D%0A"
    assert extra[b"x-b"] == b"nul%00 bell%07 del%7F lf%0A"
    assert extra[b"x-c"] == b"tab\tand obs-text \xe9 stay"
    assert b"set-cookie" not in extra


@pytest.mark.parametrize("name", [b"x\r\ny", b"x\x00", b"x\nset-cookie"])
def test_a_name_with_control_bytes_is_not_sent(name: bytes) -> None:
    head = respond([(name, b"v"), (b"x-ok", b"fine")])
    assert len(head.bodies) == 1
    assert (b"x-ok", b"fine") in head.headers
    assert all(value != b"v" for _, value in head.headers)


@pytest.mark.parametrize("name", [b"", b"x a", b"x:a", b"x\r\ny"])
def test_a_name_that_is_not_a_token_is_refused(name: bytes) -> None:
    assert safe_header(name, b"v") is None


def test_the_loss_report_is_escaped_and_deduplicated() -> None:
    value = dropped_header(["top_k", "tool a\r\nb (c;d%e)", "top_k", "caf\u00e9"])
    assert value == b"top_k; tool a%0D%0Ab (c%3Bd%25e); caf%C3%A9"


def test_the_loss_report_is_bounded_and_says_what_it_left_out() -> None:
    entries = [f"tool t{i} ({'v' * 500})" for i in range(100)]
    value = dropped_header(entries).decode()
    assert len(value) <= MAX_DROPPED_BYTES
    kept = value.count("tool t")
    assert kept >= 5
    assert value.endswith(f"; ... {100 - kept} more in the request log")


class Body:
    """Stands for a request's body: something large a failed request's frames hold."""


def fail(body: Body) -> None:
    """Fails the way the channel loop does: the exception is kept in a local and raised
    from there, so the frame holds the exception that holds the frame."""
    last: UpstreamError | None = None
    for _ in range(2):
        try:
            raise UpstreamError.unreachable("p", "refused")
        except UpstreamError as exc:
            last = exc
    assert last is not None
    raise last


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_collector")
def test_release_frees_a_failed_request_without_the_cyclic_collector() -> None:
    def serve() -> weakref.ref[Body]:
        body = Body()
        held = weakref.ref(body)
        try:
            fail(body)
        except UpstreamError as exc:
            release(exc)
        return held

    assert serve()() is None

    def serve_unreleased() -> weakref.ref[Body]:
        body = Body()
        held = weakref.ref(body)
        with contextlib.suppress(UpstreamError):
            fail(body)
        return held

    # Without it, only a collection frees it (which the gateway seldom runs).
    kept = serve_unreleased()
    assert kept() is not None
    gc.collect()
    assert kept() is None
