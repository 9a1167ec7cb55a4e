"""The SSE decoder: whatever the line ends and wherever the reads split the bytes, the same
events come out."""

from __future__ import annotations

from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.dialects.sse import EventTooLarge, SSEDecoder

SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=SURROGATES),
    max_size=12,
)
events = st.lists(
    st.tuples(
        st.none() | line_text.filter(lambda t: t != ""), st.lists(line_text, min_size=1, max_size=3)
    ),
    max_size=6,
)


def wire(items: list[tuple[str | None, list[str]]], eol: str) -> bytes:
    out = ""
    for name, lines in items:
        if name is not None:
            out += f"event: {name}{eol}"
        out += "".join(f"data: {line}{eol}" for line in lines)
        out += eol
    return out.encode()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(items=events, eol=st.sampled_from(["\n", "\r\n", "\r"]), cuts=st.lists(st.integers(0, 400)))
def test_any_split_and_any_line_end_give_the_same_events(
    items: list[tuple[str | None, list[str]]], eol: str, cuts: list[int]
) -> None:
    raw = wire(items, eol)
    points = sorted({c for c in cuts if c < len(raw)})
    decoder = SSEDecoder()
    got = []
    start = 0
    for point in [*points, len(raw)]:
        got += decoder.feed(raw[start:point])
        start = point
    got += decoder.flush()
    expected = [(name, "\n".join(lines).encode()) for name, lines in items]
    assert [(e.event, e.data) for e in got] == expected


def test_comments_and_data_without_a_space() -> None:
    decoder = SSEDecoder()
    out = decoder.feed(b": keep-alive\n\ndata:{}\n\ndata: [DONE]\n\n")
    assert [e.data for e in out] == [b"{}", b"[DONE]"]
    assert out[0].raw == b"data:{}\n\n"


def test_a_crlf_split_between_reads_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    (event,) = decoder.feed(b"\ndata: b\r\n\r")  # a lone CR ends a line: the blank one
    assert event.data == b"a\nb"
    assert decoder.feed(b"\n") == []  # the LF of that CRLF, not another line


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    items=events,
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(0, 400)),
    limit=st.integers(1, 60),
)
def test_an_event_over_the_limit_fails_and_every_other_passes(
    items: list[tuple[str | None, list[str]]], eol: str, cuts: list[int], limit: int
) -> None:
    raw = wire(items, eol)
    points = sorted({c for c in cuts if c < len(raw)})
    # An event's size is its lines with LF ends, without the blank line that ends it.
    largest = max((len(wire([item], "\n")) - 2 for item in items), default=0)
    decoder = SSEDecoder(max_event=limit)
    got = []
    start = 0
    try:
        for point in [*points, len(raw)]:
            got += decoder.feed(raw[start:point])
            start = point
        got += decoder.flush()
    except EventTooLarge:
        assert largest > limit
    else:
        assert largest <= limit
        assert [(e.event, e.data) for e in got] == [
            (name, "\n".join(lines).encode()) for name, lines in items
        ]


def test_lines_without_a_blank_one_fail_at_the_limit_not_later() -> None:
    decoder = SSEDecoder(max_event=1024 * 1024)
    line = b"data: " + b"x" * 4090 + b"\n"  # 4 KiB
    fed = 0

    def feed_forever() -> None:  # bounded: 64 MiB
        nonlocal fed
        while fed < 64 * 1024 * 1024:
            decoder.feed(line)
            fed += len(line)

    with pytest.raises(EventTooLarge, match="larger than the 1048576-byte limit"):
        feed_forever()
    assert 1024 * 1024 - len(line) < fed <= 1024 * 1024  # what it took before the one too many
    # After the failure it holds nothing, and the same limit allows an event just under it.
    assert decoder.flush() == []
    (event,) = SSEDecoder(max_event=1024 * 1024).feed(line * 255 + b"\n")
    assert len(event.raw) == len(line) * 255 + 1


def test_an_event_at_the_limit_passes_when_its_blank_line_spans_two_reads() -> None:
    raw = b"event: 00000000\r\ndata: \r\ndata: \xf0\x90\x80\x80\r\n\r\n"  # a 33-byte event
    decoder = SSEDecoder(max_event=33)
    got = [*decoder.feed(raw[:1]), *decoder.feed(raw[1:36]), *decoder.feed(raw[36:])]
    assert [(e.event, e.data) for e in got] == [("00000000", "\n\U00010000".encode())]
    tight = SSEDecoder(max_event=32)
    tight.feed(raw[:1])
    with pytest.raises(EventTooLarge):  # one byte less is still refused
        tight.feed(raw[1:36])
