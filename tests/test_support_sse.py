"""parse_sse / format_sse: line endings, multi-line data, comments, truncation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.sse import SSEEvent, SSEParseError, format_sse, parse_sse


def test_named_and_unnamed_events() -> None:
    raw = b'event: ping\ndata: {"type": "ping"}\n\ndata: [DONE]\n\n'
    assert parse_sse(raw) == [SSEEvent("ping", '{"type": "ping"}'), SSEEvent(None, "[DONE]")]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol: str) -> None:
    raw = f"event: a{eol}data: 1{eol}{eol}data: 2{eol}{eol}"
    assert parse_sse(raw) == [SSEEvent("a", "1"), SSEEvent(None, "2")]


def test_multiline_data_comments_and_field_quirks() -> None:
    raw = (
        "\ufeff: keep-alive\n\n"  # a comment-only block is not an event
        "data:no-space\ndata:  two spaces\ndata\nid: 7\nretry: 10\nfoo: bar\n\n"
        "event: only-name\n\n"
    )
    assert parse_sse(raw) == [
        SSEEvent(None, "no-space\n two spaces\n"),
        SSEEvent("only-name", ""),
    ]


def test_unicode_line_separators_stay_inside_data() -> None:
    assert parse_sse("data: a\u2028b\x0bc\n\n") == [SSEEvent(None, "a\u2028b\x0bc")]


@pytest.mark.parametrize(
    "raw", ["data: 1\n\ndata: 2\n", "data: 1\n\ndata: 2", "data: 1\n\nevent: x"]
)
def test_truncated_final_event(raw: str) -> None:
    with pytest.raises(SSEParseError, match="unterminated"):
        parse_sse(raw)
    assert parse_sse(raw, allow_partial=True) == [SSEEvent(None, "1")]


def test_invalid_utf8() -> None:
    with pytest.raises(SSEParseError, match="UTF-8"):
        parse_sse(b"data: \xff\n\n")


def test_format_sse() -> None:
    assert format_sse({"type": "ping"}, event="ping") == 'event: ping\ndata: {"type":"ping"}\n\n'
    assert format_sse("a\nb") == "data: a\ndata: b\n\n"


# \r is excluded from data: format_sse writes it raw and SSE treats it as a line break.
_text = st.text(st.characters(blacklist_characters="\r", blacklist_categories=["Cs"]))


@given(st.lists(st.tuples(st.none() | _text.filter(lambda s: "\n" not in s), _text)))
def test_format_parse_roundtrip(items: list[tuple[str | None, str]]) -> None:
    raw = "".join(format_sse(data, event=event) for event, data in items)
    assert parse_sse(raw.encode()) == [SSEEvent(event, data) for event, data in items]
