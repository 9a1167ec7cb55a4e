"""What the stream decoders of piecewise upstreams share (dialects/openai_chat/stream.py,
dialects/gemini/stream.py): the upstream sends text, reasoning and calls as pieces; the IR
stream has one block open at a time, indexed 0..n-1, each stopped. This is that bookkeeping,
and the estimate a stream cut short is charged by. Pure, like the decoders."""

from __future__ import annotations

from abc import ABC, abstractmethod

from switchboard import ir
from switchboard.errors import UpstreamError


class BlockStream(ABC):
    """The open block (its kind and index), the next index, the open thinking block's text,
    and what was generated so far (characters of text, reasoning and arguments)."""

    def __init__(self, *, provider: str, input_estimate: int, tool_names: dict[str, str]) -> None:
        self._provider = provider
        self._estimate = input_estimate
        self._names = tool_names
        self._started = False
        self._next_index = 0
        self._open: str | None = None  # "text" | "thinking" (| "tool": openai_chat)
        self._open_index = -1
        self._thinking: list[str] = []  # the open thinking block's text, to sign at its stop
        self._generated = 0
        self.notes: list[str] = []
        self.finished = False

    @abstractmethod
    def _stop_thinking(self, out: list[ir.Event]) -> None:
        """The open thinking block's signature, just before its stop (its text is in
        `_thinking`, to be cleared)."""

    def _check_finished(self, finished: bool) -> None:
        """At the end of the stream: refused unless it began and `finished` (it said so)."""
        if not self._started:
            raise UpstreamError.malformed(self._provider, "the stream ended before any chunk")
        if not finished:
            raise UpstreamError.malformed(self._provider, "the stream ended before it finished")

    def _estimated_usage(self) -> ir.Usage:
        """Before the upstream reported usage (a stream cut short), an estimate of what was
        generated so far, which is what a cut stream is charged for."""
        return ir.Usage(input_tokens=self._estimate, output_tokens=-(-self._generated // 4))

    def _start(
        self, block: ir.Text | ir.ToolUse | ir.Thinking, kind: str, out: list[ir.Event]
    ) -> int:
        index = self._next_index
        self._next_index += 1
        self._open, self._open_index = kind, index
        out.append(ir.BlockStart(index, block))
        return index

    def _close(self, out: list[ir.Event]) -> None:
        if self._open is None:
            return
        if self._open == "thinking":
            self._stop_thinking(out)
        out.append(ir.BlockStop(self._open_index))
        self._open = None
