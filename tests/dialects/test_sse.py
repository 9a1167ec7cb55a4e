"""The SSE decoder: whatever the line ends and wherever the reads split the bytes, the same
events come out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.dialects.sse import SSEDecoder

line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12
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


@settings(max_examples=300, deadline=None)
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
