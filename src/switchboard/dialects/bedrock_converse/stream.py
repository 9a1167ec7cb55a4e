"""ConverseStream events -> IR stream events. Converse announces only tool-use blocks (text and
reasoning blocks begin with their first delta) and reports usage in `metadata`, after
`messageStop`: the decoder opens blocks as they appear, renumbers them 0..n-1, and ends the
message once the usage is known (or the stream ends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from switchboard import ir
from switchboard.dialects.bedrock_converse import wire
from switchboard.dialects.bedrock_converse.response import stop_reason, usage
from switchboard.errors import UpstreamError

_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "contentBlockStart": msgspec.json.Decoder(wire.ContentBlockStart).decode,
    "contentBlockDelta": msgspec.json.Decoder(wire.ContentBlockDelta).decode,
    "contentBlockStop": msgspec.json.Decoder(wire.ContentBlockStop).decode,
    "messageStop": msgspec.json.Decoder(wire.MessageStop).decode,
    "metadata": msgspec.json.Decoder(wire.Metadata).decode,
}


class StreamDecoder:
    __slots__ = (
        "_index",
        "_kind",
        "_open",
        "_provider",
        "_started",
        "_stop",
        "finished",
        "notes",
        "usage",
    )

    def __init__(self, *, provider: str) -> None:
        self._provider = provider
        self._started = False
        self._open: int | None = None  # the upstream index of the open block
        self._kind = ""  # its kind: text, tool, thinking
        self._index = -1  # its IR index
        self._stop: ir.StopReason | None = None
        self.usage = ir.Usage()
        self.notes: list[str] = []
        self.finished = False

    def feed(self, event_type: str, payload: bytes) -> list[ir.Event]:
        out: list[ir.Event] = []
        if not self._started:
            self._started = True
            out.append(ir.MessageStart(ir.Usage()))
        decode = _DECODERS.get(event_type)
        if decode is None:  # messageStart (the role only), and events added later
            return out
        try:
            event = decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamError.malformed(self._provider, f"{event_type}: {exc}") from None
        match event:
            case wire.ContentBlockStart(content_block_index=i, start=start):
                tool = start.tool_use if start is not None else None
                if tool is not None:
                    out += self._begin(i, "tool", ir.ToolUse(tool.tool_use_id, tool.name, {}))
            case wire.ContentBlockDelta(content_block_index=i, delta=delta):
                out += self._delta(i, delta)
            case wire.ContentBlockStop(content_block_index=i):
                if self._open == i:
                    out.append(ir.BlockStop(self._index))
                    self._open = None
            case wire.MessageStop(stop_reason=raw):
                out += self._close()
                self._stop = stop_reason(raw, self.notes)
            case wire.Metadata(usage=raw):
                self.usage = usage(raw)
                if self._stop is not None:
                    out += self._end()
        return out

    def _begin(
        self, i: int, kind: str, block: ir.Text | ir.ToolUse | ir.Thinking
    ) -> list[ir.Event]:
        out = self._close()
        self._open, self._kind = i, kind
        self._index += 1
        out.append(ir.BlockStart(self._index, block))
        return out

    def _close(self) -> list[ir.Event]:
        if self._open is None:
            return []
        self._open = None
        return [ir.BlockStop(self._index)]

    def _delta(self, i: int, delta: wire.Delta) -> list[ir.Event]:
        out: list[ir.Event] = []
        if delta.text is not None:
            if self._open != i or self._kind != "text":
                out += self._begin(i, "text", ir.Text(""))
            out.append(ir.TextDelta(self._index, delta.text))
        elif delta.tool_use is not None:
            if self._open != i or self._kind != "tool":
                raise UpstreamError.malformed(self._provider, "tool input before its block start")
            out.append(ir.InputJsonDelta(self._index, delta.tool_use.input))
        elif delta.reasoning_content is not None:
            reasoning = delta.reasoning_content
            if reasoning.text is not None:
                if self._open != i or self._kind != "thinking":
                    out += self._begin(i, "thinking", ir.Thinking(""))
                out.append(ir.ThinkingDelta(self._index, reasoning.text))
            elif reasoning.redacted_content is not None and "redacted reasoning" not in self.notes:
                self.notes.append("redacted reasoning")
            # A signature is Bedrock's, for replaying to Bedrock: Converse reasoning is shown,
            # not replayed, so it is not passed on.
        return out

    def _end(self) -> list[ir.Event]:
        assert self._stop is not None
        self.finished = True
        return [ir.MessageDelta(self._stop, self.usage), ir.MessageStop()]

    def finish(self) -> list[ir.Event]:
        """The stream ended: a message stopped without its metadata still ends properly."""
        if self.finished:
            return []
        if self._stop is None:
            raise UpstreamError.malformed(self._provider, "the stream ended before messageStop")
        return self._end()
