"""The AWS event-stream decoder: messages split anywhere, CRCs checked, sizes bounded. The
frames are built by botocore's own parser's counterpart where it matters: botocore decodes what
`encode_message` builds, so the tests' scripted server speaks the real framing."""

from __future__ import annotations

import struct
import zlib

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.dialects.aws_eventstream import (
    EventStreamDecoder,
    EventStreamError,
    encode_message,
)

MESSAGES = [
    encode_message({":event-type": "chunk", ":message-type": "event"}, b'{"bytes":"e30="}'),
    encode_message({":event-type": "metadata"}, b""),
    encode_message({":exception-type": "throttlingException", ":message-type": "exception"}, b"{}"),
]


def test_botocore_reads_what_the_encoder_writes() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(MESSAGES))
    parsed = list(buffer)
    assert [m.headers for m in parsed] == [
        {":event-type": "chunk", ":message-type": "event"},
        {":event-type": "metadata"},
        {":exception-type": "throttlingException", ":message-type": "exception"},
    ]
    assert parsed[0].payload == b'{"bytes":"e30="}'


@settings(derandomize=True, max_examples=200)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60))
def test_messages_split_anywhere_decode_the_same(sizes: list[int]) -> None:
    whole = b"".join(MESSAGES)
    decoder = EventStreamDecoder()
    out = []
    i = 0
    for size in sizes:
        out += decoder.feed(whole[i : i + size])
        i += size
    out += decoder.feed(whole[i:])
    assert [m.headers.get(":event-type") for m in out] == ["chunk", "metadata", None]
    assert out[0].payload == b'{"bytes":"e30="}'
    assert out[2].message_type == "exception"
    assert decoder.pending == 0


def test_a_bad_message_crc_fails() -> None:
    broken = bytearray(MESSAGES[0])
    broken[-6] ^= 0xFF  # a payload byte
    with pytest.raises(EventStreamError, match="message CRC"):
        EventStreamDecoder().feed(bytes(broken))


def test_a_bad_prelude_crc_fails_before_waiting_for_the_rest() -> None:
    broken = bytearray(MESSAGES[0][:12])
    broken[3] ^= 0x01
    with pytest.raises(EventStreamError, match="prelude CRC"):
        EventStreamDecoder().feed(bytes(broken))


def test_a_message_over_the_cap_fails_from_its_prelude() -> None:
    big = encode_message({":event-type": "chunk"}, b"x" * 5000)
    decoder = EventStreamDecoder(max_message=4096)
    with pytest.raises(EventStreamError, match="over the 4096-byte limit"):
        decoder.feed(big[:12])  # nothing of it is kept: the prelude says it is too big


def test_inconsistent_lengths_fail() -> None:
    prelude = struct.pack(">II", 16, 100)
    prelude += struct.pack(">I", zlib.crc32(prelude))
    with pytest.raises(EventStreamError, match="inconsistent"):
        EventStreamDecoder().feed(prelude + b"\0\0\0\0")


def test_unfinished_message_is_pending() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(MESSAGES[0][:-1]) == []
    assert decoder.pending == len(MESSAGES[0]) - 1
