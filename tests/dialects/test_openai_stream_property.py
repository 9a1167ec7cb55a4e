"""Property: any IR event sequence in Anthropic's grammar encodes to a well-formed OpenAI chunk
sequence (role once in the first delta, tool-call indices dense from 0 with id and name only on
the first fragment, one finish chunk, a usage chunk only when asked, [DONE] last), and the SDK's
own `.stream()` accumulator rebuilds exactly the content that went in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

from hypothesis import given
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from switchboard import ir
from switchboard.dialects.openai_chat.response import finish_reason
from switchboard.dialects.openai_chat.stream import StreamEncoder
from switchboard.dialects.sse import SSEDecoder


@dataclass(frozen=True)
class Block:
    kind: str  # text | thinking | tool
    pieces: tuple[str, ...]
    name: str = ""


pieces = st.lists(st.text(max_size=6), max_size=4).map(tuple)
json_pieces = st.sampled_from(
    [(), ("",), ("{}",), ("", '{"a"', ": 1}"), ('{"city": "Par', 'is", "n": [1, 2]}')]
)
blocks = st.one_of(
    st.builds(Block, st.just("text"), pieces),
    st.builds(Block, st.just("thinking"), pieces),
    st.builds(Block, st.just("tool"), json_pieces, st.sampled_from(["f", "get_weather"])),
)
usages = st.builds(
    ir.Usage,
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)


def ir_events(script: list[Block], reason: ir.StopReason, usage: ir.Usage) -> list[ir.Event]:
    out: list[ir.Event] = [ir.MessageStart(ir.Usage(input_tokens=usage.input_tokens))]
    for i, b in enumerate(script):
        if b.kind == "text":
            out.append(ir.BlockStart(i, ir.Text("")))
            out.extend(ir.TextDelta(i, p) for p in b.pieces)
        elif b.kind == "thinking":
            out.append(ir.BlockStart(i, ir.Thinking("")))
            out.extend(ir.ThinkingDelta(i, p) for p in b.pieces)
            out.append(ir.SignatureDelta(i, "sig"))
        else:
            out.append(ir.BlockStart(i, ir.ToolUse(f"toolu_{i}", b.name, {})))
            out.extend(ir.InputJsonDelta(i, p) for p in b.pieces)
        out.append(ir.BlockStop(i))
    out.append(ir.MessageDelta(reason, usage))
    out.append(ir.MessageStop())
    return out


@given(
    script=st.lists(blocks, max_size=6),
    reason=st.sampled_from(get_args(ir.StopReason)),
    usage=usages,
    include_usage=st.booleans(),
    batch=st.integers(1, 5),
)
def test_chunk_sequence_is_well_formed(
    script: list[Block],
    reason: ir.StopReason,
    usage: ir.Usage,
    include_usage: bool,
    batch: int,
) -> None:
    encoder = StreamEncoder(
        model="claude-test", completion_id="chatcmpl-x", created=7, include_usage=include_usage
    )
    events = ir_events(script, reason, usage)
    # Events arrive in batches (one per upstream chunk); the framing must not depend on it.
    wire = b"".join(
        b"".join(encoder.encode(e) for e in events[i : i + batch])
        for i in range(0, len(events), batch)
    )
    frames = SSEDecoder().feed(wire)
    assert all(f.event is None and f.raw.startswith(b"data: ") for f in frames)
    assert [f.data for f in frames].count(b"[DONE]") == 1
    assert frames[-1].data == b"[DONE]"
    chunks: list[dict[str, Any]] = [json.loads(f.data) for f in frames[:-1]]

    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert (c["id"], c["model"], c["created"]) == ("chatcmpl-x", "claude-test", 7)
        assert isinstance(c["choices"], list)
        assert all(isinstance(ch["delta"], dict) and ch["index"] == 0 for ch in c["choices"])

    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0].get("role") == "assistant"
    assert sum("role" in d for d in deltas) == 1

    # Tool-call fragments: an index on each, dense from 0 in order of first appearance, and
    # id/type/name only on the first fragment of each call.
    tools = [b for b in script if b.kind == "tool"]
    seen: list[int] = []
    for d in deltas:
        for frag in d.get("tool_calls", []):
            n = frag["index"]
            if n not in seen:
                assert n == len(seen)
                seen.append(n)
                assert frag["id"]
                assert frag["type"] == "function"
                assert frag["function"]["name"]
            else:
                assert "id" not in frag
                assert "name" not in frag["function"]
            assert isinstance(frag["function"]["arguments"], str)
    assert seen == list(range(len(tools)))

    finishes = [
        (i, c["choices"][0]["finish_reason"])
        for i, c in enumerate(chunks)
        if c["choices"] and c["choices"][0]["finish_reason"] is not None
    ]
    assert len(finishes) == 1
    at, finish = finishes[0]
    assert finish == finish_reason(reason, bool(tools))
    assert chunks[at]["choices"][0]["delta"] == {}

    usage_chunks = [i for i, c in enumerate(chunks) if c.get("usage") is not None]
    if include_usage:
        assert usage_chunks == [len(chunks) - 1]
        assert at == len(chunks) - 2
        last = chunks[-1]
        assert last["choices"] == []
        prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        assert last["usage"]["prompt_tokens"] == prompt
        assert last["usage"]["completion_tokens"] == usage.output_tokens
        assert last["usage"]["total_tokens"] == prompt + usage.output_tokens
    else:
        assert usage_chunks == []
        assert at == len(chunks) - 1

    # What the SDK's .stream() helper accumulates is exactly what went in.
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for c in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(c))
    # (The snapshot, since get_final_completion raises on `length`, as it should.)
    message = state.current_completion_snapshot.choices[0].message
    text = "".join(p for b in script if b.kind == "text" for p in b.pieces)
    assert (message.content or "") == text
    reasoning = "".join(p for b in script if b.kind == "thinking" for p in b.pieces)
    assert (getattr(message, "reasoning_content", None) or "") == reasoning
    calls = message.tool_calls or []
    assert [c.id for c in calls] == [f"toolu_{i}" for i, b in enumerate(script) if b.kind == "tool"]
    assert [c.function.name for c in calls] == [b.name for b in tools]  # type: ignore[union-attr]
    assert [c.function.arguments for c in calls] == ["".join(b.pieces) for b in tools]  # type: ignore[union-attr]
