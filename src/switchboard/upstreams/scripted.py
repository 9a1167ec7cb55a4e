"""A deterministic in-process upstream: the offline demo model (`switchboard/demo`), so that the
quickstart answers on a machine with no network. It echoes the last user text."""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchboard import ir
from switchboard.upstreams.base import Call, Completion


def _reply(request: ir.Request) -> str:
    last = ""
    for message in reversed(request.messages):
        if message.role == "user":
            last = " ".join(b.text for b in message.content if isinstance(b, ir.Text))
            break
    return f"Hello from the Switchboard demo model. You said: {last}".strip()


def _cut(text: str, request: ir.Request) -> tuple[str, ir.StopReason, str | None, int]:
    """Apply stop sequences and max_tokens (one word is one token here)."""
    reason: ir.StopReason = "end_turn"
    matched = None
    for seq in request.stop_sequences:
        at = text.find(seq)
        if at >= 0:
            text, reason, matched = text[:at], "stop_sequence", seq
    words = text.split(" ")
    if len(words) > request.max_tokens:
        words, reason, matched = words[: request.max_tokens], "max_tokens", None
    return " ".join(words), reason, matched, len(words) if words != [""] else 0


class ScriptedUpstream:
    async def complete(self, call: Call) -> Completion:
        text, reason, matched, tokens = _cut(_reply(call.request), call.request)
        usage = ir.Usage(input_tokens=call.input_estimate, output_tokens=tokens)
        content = (ir.Text(text),) if text else ()
        return Completion(ir.Response(content, reason, usage, matched), list(call.request.dropped))

    async def stream(self, call: Call) -> DemoStream:
        return DemoStream(call)


class DemoStream:
    def __init__(self, call: Call) -> None:
        self._call = call
        self.dropped = list(call.request.dropped)
        self.notes: list[str] = []
        self._usage = ir.Usage(input_tokens=call.input_estimate)

    @property
    def usage(self) -> ir.Usage:
        return self._usage

    async def __aiter__(self) -> AsyncIterator[list[ir.Event]]:
        text, reason, matched, tokens = _cut(_reply(self._call.request), self._call.request)
        yield [ir.MessageStart(self._usage)]
        if text:
            words = text.split(" ")
            yield [ir.BlockStart(0, ir.Text("")), ir.TextDelta(0, words[0])]
            for word in words[1:]:
                yield [ir.TextDelta(0, " " + word)]
            yield [ir.BlockStop(0)]
        self._usage = ir.Usage(input_tokens=self._usage.input_tokens, output_tokens=tokens)
        yield [ir.MessageDelta(reason, self._usage, matched), ir.MessageStop()]

    async def aclose(self) -> None:
        return None
