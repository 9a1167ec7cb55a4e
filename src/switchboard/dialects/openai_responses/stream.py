"""IR events -> the Responses API's typed stream events, each numbered (`sequence_number`).

The IR's grammar (one block at a time, each started and stopped) maps onto items: a text block
is a message item with one output_text part, a thinking block a reasoning item with one summary
part, a tool-use block a function_call item. The encoder keeps the finished items, so the
stream ends with the whole response object (`response.completed`), as a non-streamed request
returns it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, assert_never

import orjson

from switchboard import ir
from switchboard.dialects.openai_responses.response import (
    Echo,
    Json,
    function_call_item,
    message_item,
    output_text,
    reasoning_item,
    response_json,
    status_of,
)
from switchboard.dialects.sse import frame
from switchboard.ids import item_id


@dataclass(slots=True)
class _Open:
    """The item being streamed."""

    index: int  # its output_index
    id: str
    block: ir.Text | ir.ToolUse | ir.Thinking
    parts: list[str] = field(default_factory=list)
    signature: str = ""


class StreamEncoder:
    __slots__ = ("_echo", "_open", "_reason", "_seq", "_usage", "finished", "output")

    def __init__(self, echo: Echo) -> None:
        self._echo = echo
        self._seq = 0
        self._open: _Open | None = None
        self._usage = ir.Usage()
        self._reason: ir.StopReason = "end_turn"
        self.output: list[Json] = []  # the finished items, for the final response (and storage)
        self.finished = False  # the response was completed (or is incomplete), not failed

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        return frame(kind, orjson.dumps(data))

    def encode(self, event: ir.Event) -> bytes:
        match event:
            case ir.MessageStart():
                self._usage = event.usage
                created = response_json(self._echo, status="in_progress", output=[], usage=None)
                return self._event("response.created", {"response": created}) + self._event(
                    "response.in_progress", {"response": created}
                )
            case ir.BlockStart():
                return self._start(event.block)
            case ir.TextDelta():
                return self._delta("response.output_text.delta", event.text, content_index=0)
            case ir.ThinkingDelta():
                return self._delta(
                    "response.reasoning_summary_text.delta", event.thinking, summary_index=0
                )
            case ir.InputJsonDelta():
                return self._delta("response.function_call_arguments.delta", event.partial_json)
            case ir.SignatureDelta():
                if self._open is not None:
                    self._open.signature += event.signature
                return b""
            case ir.BlockStop():
                return self._stop()
            case ir.MessageDelta():
                self._usage = event.usage
                self._reason = event.stop_reason
                return b""
            case ir.MessageStop():
                final = self.final()
                completed = final["status"] == "completed"
                kind = "response.completed" if completed else "response.incomplete"
                self.finished = True
                return self._event(kind, {"response": final})
            case _:
                assert_never(event)

    def final(self) -> Json:
        """The whole response, as the stream's last event carries it (and storage keeps it):
        complete once every item is done and the stop reason and usage are in."""
        status, incomplete = status_of(self._reason)
        return response_json(
            self._echo, status=status, output=self.output, usage=self._usage, incomplete=incomplete
        )

    def failed(self, code: str, message: str) -> bytes:
        """The stream's last event when it breaks after its first byte."""
        error = {"code": code, "message": message}
        failed = response_json(
            self._echo, status="failed", output=self.output, usage=self._usage, error=error
        )
        return self._event("response.failed", {"response": failed})

    def _start(self, block: ir.Text | ir.ToolUse | ir.Thinking | ir.ServerBlock) -> bytes:
        index = len(self.output)
        match block:
            case ir.ServerToolUse() | ir.WebSearchResult() | ir.WebFetchResult():
                return b""  # only an Anthropic request can ask for server tools (servertools/)
            case ir.Text():
                opened = self._open = _Open(index, item_id("msg"), block)
                added = self._event(
                    "response.output_item.added",
                    {"output_index": index, "item": message_item(opened.id, None, "in_progress")},
                )
                part = self._event(
                    "response.content_part.added",
                    {
                        "item_id": opened.id,
                        "output_index": index,
                        "content_index": 0,
                        "part": output_text(""),
                    },
                )
                first = self._delta("response.output_text.delta", block.text, content_index=0)
                return added + part + first
            case ir.Thinking():
                opened = self._open = _Open(index, item_id("rs"), block)
                added = self._event(
                    "response.output_item.added",
                    {"output_index": index, "item": reasoning_item(opened.id, None)},
                )
                part = self._event(
                    "response.reasoning_summary_part.added",
                    {
                        "item_id": opened.id,
                        "output_index": index,
                        "summary_index": 0,
                        "part": {"type": "summary_text", "text": ""},
                    },
                )
                first = self._delta(
                    "response.reasoning_summary_text.delta", block.thinking, summary_index=0
                )
                return added + part + first
            case ir.ToolUse():
                opened = self._open = _Open(index, item_id("fc"), block)
                item = function_call_item(
                    opened.id, block, "", "in_progress", self._echo.namespaces
                )
                added = self._event(
                    "response.output_item.added", {"output_index": index, "item": item}
                )
                args = orjson.dumps(block.input).decode() if block.input else ""
                return added + self._delta("response.function_call_arguments.delta", args)
            case _:
                assert_never(block)

    def _delta(self, kind: str, text: str, **where: int) -> bytes:
        opened = self._open
        if not text or opened is None:
            return b""
        opened.parts.append(text)
        payload: dict[str, Any] = {"item_id": opened.id, "output_index": opened.index, **where}
        payload["delta"] = text
        if kind == "response.output_text.delta":
            payload["logprobs"] = []
        return self._event(kind, payload)

    def _stop(self) -> bytes:
        opened, self._open = self._open, None
        if opened is None:
            return b""
        text = "".join(opened.parts)
        at = {"item_id": opened.id, "output_index": opened.index}
        block = opened.block
        match block:
            case ir.Text():
                item = message_item(opened.id, text)
                out = self._event(
                    "response.output_text.done",
                    {**at, "content_index": 0, "text": text, "logprobs": []},
                ) + self._event(
                    "response.content_part.done",
                    {**at, "content_index": 0, "part": output_text(text)},
                )
            case ir.Thinking():
                item = reasoning_item(opened.id, text, opened.signature)
                summary = {"type": "summary_text", "text": text}
                out = self._event(
                    "response.reasoning_summary_text.done", {**at, "summary_index": 0, "text": text}
                ) + self._event(
                    "response.reasoning_summary_part.done",
                    {**at, "summary_index": 0, "part": summary},
                )
            case ir.ToolUse():
                arguments = text or "{}"
                item = function_call_item(
                    opened.id, block, arguments, "completed", self._echo.namespaces
                )
                out = self._event(
                    "response.function_call_arguments.done",
                    {**at, "name": block.name, "arguments": arguments},
                )
            case _:
                assert_never(block)
        self.output.append(item)
        return out + self._event(
            "response.output_item.done", {"output_index": opened.index, "item": item}
        )
