"""Stream events. Their grammar is Anthropic's: a MessageStart, then blocks indexed 0..n-1 one at
a time (BlockStart, deltas, BlockStop), then MessageDelta and MessageStop. Upstream decoders
must produce exactly this grammar; encoders may then stay stateless."""

from __future__ import annotations

import msgspec

from switchboard.ir.content import ServerBlock, Text, Thinking, ToolUse
from switchboard.ir.response import StopReason, Usage


class MessageStart(msgspec.Struct, frozen=True):
    usage: Usage


class BlockStart(msgspec.Struct, frozen=True):
    index: int
    # A server tool's call starts with empty input (deltas follow); its results come whole.
    block: Text | ToolUse | Thinking | ServerBlock


class TextDelta(msgspec.Struct, frozen=True):
    index: int
    text: str


class InputJsonDelta(msgspec.Struct, frozen=True):
    index: int
    partial_json: str


class ThinkingDelta(msgspec.Struct, frozen=True):
    index: int
    thinking: str


class SignatureDelta(msgspec.Struct, frozen=True):
    index: int
    signature: str


class BlockStop(msgspec.Struct, frozen=True):
    index: int


class MessageDelta(msgspec.Struct, frozen=True):
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None


class MessageStop(msgspec.Struct, frozen=True):
    pass


Event = (
    MessageStart
    | BlockStart
    | TextDelta
    | InputJsonDelta
    | ThinkingDelta
    | SignatureDelta
    | BlockStop
    | MessageDelta
    | MessageStop
)
