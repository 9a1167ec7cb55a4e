"""Upstream chat-completion chunks -> IR stream events in Anthropic's grammar (StreamDecoder),
and IR events -> chat-completion chunks for the client (StreamEncoder).

The upstream may interleave text, reasoning and the argument pieces of several tool calls; the
client must see one block at a time, indexed 0..n-1, each stopped. So: text and reasoning stream
live, each switch closing the open block; the first tool call to be named streams live; pieces of
other calls are held and each becomes a whole block when the live one is done. Text that arrives
while a tool block is open is held and sent after the tool blocks, so nothing is lost."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, assert_never

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.blocks import BlockStream
from switchboard.dialects.openai_chat import wire
from switchboard.dialects.openai_chat.names import client_tool_id
from switchboard.dialects.openai_chat.response import (
    KNOWN_FINISH,
    arguments_text,
    finish_reason,
    no_signature,
    repair_arguments,
    stop_reason,
    usage,
    usage_json,
)
from switchboard.dialects.sse import data_frame
from switchboard.errors import UpstreamError
from switchboard.ids import tool_use_id

_decode_chunk = msgspec.json.Decoder(wire.Chunk).decode


# Text that only continues a JSON string: no unescaped quote, complete escapes (no surrogate
# halves), no control characters or lone surrogates. Appended to a closable prefix that ends
# inside a string, the prefix stays closable, by the same quote and brackets.
_STRING_TEXT = re.compile(
    r'(?:[^"\\\x00-\x1f\ud800-\udfff]|\\["\\/bfnrt]|\\u(?![dD][89a-fA-F])[0-9a-fA-F]{4})*'
)
_PARTIAL_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?")


@dataclass(slots=True)
class _Call:
    id: str | None = None
    name: str | None = None
    args: list[str] = field(default_factory=list)
    block: int | None = None  # the client block index once started
    parts: list[str] = field(default_factory=list)  # what the client has; always closable
    held: str = ""  # arguments received but not yet a closable prefix
    in_string: bool = False  # what the client has ends inside a JSON string, not mid-escape

    @property
    def sent(self) -> str:
        return "".join(self.parts)

    def advance(self, piece: str) -> str:
        """What of the held arguments can go to the client now. Only prefixes that closing
        brackets turn into a JSON object are sent, so a later bad piece can never break the
        client's parse: the sent part can always be closed instead.

        Inside a string the check is local: text that only continues the string goes out at
        once (an escape cut in two waits for its other half) without re-reading the prefix, so
        a long argument (a file being written) costs linear time, not quadratic."""
        if self.in_string:
            text = self.held + piece
            end = _STRING_TEXT.match(text).end()  # type: ignore[union-attr]  # `*` always matches
            rest = text[end:]
            if not rest or _PARTIAL_ESCAPE.fullmatch(rest):
                self.held = rest
                if end:
                    self.parts.append(text[:end])
                return text[:end]
        self.held += piece
        candidate = self.sent + self.held
        repaired = repair_arguments(candidate)
        if repaired is None:
            return ""
        out, self.parts, self.held = self.held, [candidate], ""
        self.in_string = repaired[0].startswith('"')
        return out


class StreamDecoder(BlockStream):
    """Feed it each SSE `data` payload; `finish()` at `[DONE]` or end of stream."""

    def __init__(
        self,
        *,
        provider: str,
        input_estimate: int,
        tool_names: dict[str, str],
        sign: Callable[[str], str] = no_signature,
    ) -> None:
        super().__init__(provider=provider, input_estimate=input_estimate, tool_names=tool_names)
        self._sign = sign
        self._calls: dict[int, _Call] = {}
        self._order: list[int] = []
        self._live: int | None = None
        self._held_text: list[str] = []
        self._finish: str | None = None
        self._matched: str | int | None = None
        self._usage: wire.Usage | None = None

    def feed(self, data: bytes) -> list[ir.Event]:
        try:
            chunk = _decode_chunk(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise UpstreamError.malformed(self._provider, f"bad stream chunk: {exc}") from None
        if chunk.error is not None:
            err = chunk.error
            message = err if isinstance(err, str) else (err.message or "stream error")
            raise UpstreamError.from_status(
                _status_of(err), f"error in stream: {message}", provider=self._provider
            )
        events: list[ir.Event] = []
        if not self._started:
            self._started = True
            events.append(ir.MessageStart(ir.Usage(input_tokens=self._estimate)))
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices or ():
            if choice.index != 0:
                continue
            if choice.usage is not None:
                self._usage = choice.usage
            delta = choice.delta
            if delta is not None:
                reasoning = delta.reasoning_content or delta.reasoning
                if reasoning:
                    self._piece("thinking", reasoning, events)
                text = delta.content if delta.content is not None else delta.refusal
                if text:
                    self._piece("text", text, events)
                if delta.tool_calls:
                    for call in delta.tool_calls:
                        self._tool_piece(call, events)
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason
                if choice.stop_reason is not None or choice.matched_stop is not None:
                    self._matched = (
                        choice.stop_reason
                        if choice.stop_reason is not None
                        else choice.matched_stop
                    )
        return events

    def finish(self) -> list[ir.Event]:
        self._check_finished(self._finish is not None)
        events: list[ir.Event] = []
        if self._open == "tool" and self._live is not None:
            self._close_tool(self._calls[self._live], events)
        else:
            self._close(events)
        for key in self._order:
            call = self._calls[key]
            if call.block is None:
                self._whole_call(call, events)
        if self._held_text:
            index = self._start(ir.Text(""), "text", events)
            events.append(ir.TextDelta(index, "".join(self._held_text)))
            self._close(events)
        if self._finish not in KNOWN_FINISH:
            self.notes.append(f"unknown finish_reason '{self._finish}' mapped to end_turn")
        reason, sequence = stop_reason(self._finish, self._matched, bool(self._calls))
        events.append(ir.MessageDelta(reason, usage(self._usage), sequence))
        events.append(ir.MessageStop())
        self.finished = True
        return events

    @property
    def usage(self) -> ir.Usage:
        """What the upstream reported; before it has, an estimate."""
        if self._usage is not None:
            return usage(self._usage)
        return self._estimated_usage()

    # blocks

    def _stop_thinking(self, out: list[ir.Event]) -> None:
        # The signature comes last, just before the stop, as the real API sends it.
        signature = self._sign("".join(self._thinking))
        self._thinking.clear()
        if signature:
            out.append(ir.SignatureDelta(self._open_index, signature))

    def _piece(self, kind: str, text: str, out: list[ir.Event]) -> None:
        self._generated += len(text)
        if self._open == "tool":
            if kind == "text":
                self._held_text.append(text)
            else:
                self.notes.append("reasoning after a tool call dropped")
            return
        if self._open != kind:
            self._close(out)
            self._start(ir.Thinking("") if kind == "thinking" else ir.Text(""), kind, out)
        if kind == "text":
            out.append(ir.TextDelta(self._open_index, text))
        else:
            self._thinking.append(text)
            out.append(ir.ThinkingDelta(self._open_index, text))

    def _tool_piece(self, piece: wire.ToolCall, out: list[ir.Event]) -> None:
        key = piece.index
        if key is None:  # no index: match by id, else a new call
            key = next((k for k, c in self._calls.items() if piece.id and c.id == piece.id), None)
            key = key if key is not None else len(self._order)
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = _Call()
            self._order.append(key)
        if piece.id and not call.id:
            call.id = piece.id
        fn = piece.function
        if fn is not None:
            if fn.name and not call.name:
                call.name = fn.name
            args = arguments_text(fn.arguments)
            self._generated += len(args)
            if args:
                if self._live == key and call.block is not None:
                    ready = call.advance(args)
                    if ready:
                        out.append(ir.InputJsonDelta(call.block, ready))
                else:
                    call.args.append(args)
        if self._live is None and call.name and call.block is None:
            self._close(out)
            block = ir.ToolUse(self._client_id(call), self._names.get(call.name, call.name), {})
            call.block = self._start(block, "tool", out)
            self._live = key
            ready = call.advance("".join(call.args))
            if ready:
                out.append(ir.InputJsonDelta(call.block, ready))

    def _client_id(self, call: _Call) -> str:
        return client_tool_id(call.id) if call.id else tool_use_id()

    def _close_tool(self, call: _Call, out: list[ir.Event]) -> None:
        assert call.block is not None
        tail = ""
        if call.held:
            # What never became a closable prefix: the client keeps what it has, closed.
            if not call.sent:
                tail = msgspec.json.encode({"_unparsed_arguments": call.held}).decode()
            self.notes.append(f"tool call {call.name}: arguments are not valid JSON")
        repaired = repair_arguments(call.sent)
        if not tail and repaired is not None and repaired[0]:
            if not call.held:
                self.notes.append(f"tool call {call.name}: arguments repaired")
            tail = repaired[0]
        if tail:
            out.append(ir.InputJsonDelta(call.block, tail))
        self._close(out)

    def _whole_call(self, call: _Call, out: list[ir.Event]) -> None:
        name = self._names.get(call.name or "", call.name or "")
        if not name:
            self.notes.append("a tool call without a name dropped")
            return
        text = "".join(call.args)
        repaired = repair_arguments(text)
        if repaired is None:
            self.notes.append(f"tool call {name}: arguments are not valid JSON, sent as a string")
            args = msgspec.json.encode({"_unparsed_arguments": text}).decode()
        else:
            args = text + repaired[0]
            if repaired[0]:
                self.notes.append(f"tool call {name}: arguments repaired")
        call.block = self._start(ir.ToolUse(self._client_id(call), name, {}), "tool", out)
        if args:
            out.append(ir.InputJsonDelta(call.block, args))
        self._close(out)


def _status_of(err: wire.ChunkError | str) -> int:
    if isinstance(err, wire.ChunkError) and isinstance(err.code, int) and 400 <= err.code < 600:
        return err.code
    return 502


# IR events -> chat-completion chunks for the client (the OpenAI surface we serve).

DONE = data_frame(b"[DONE]")


class StreamEncoder:
    """One `data:` frame per event that has something to say. The IR grammar (blocks one at a
    time, indexed in order) makes this nearly stateless: it only numbers tool calls densely from
    0, since text and reasoning blocks take no tool-call index."""

    __slots__ = ("_head", "_include_usage", "_tools", "_usage")

    def __init__(
        self, *, model: str, completion_id: str, created: int, include_usage: bool
    ) -> None:
        self._head = (
            b'{"id":'
            + orjson.dumps(completion_id)
            + b',"object":"chat.completion.chunk","created":'
            + str(created).encode()
            + b',"model":'
            + orjson.dumps(model)
            + b',"choices":'
        )
        self._include_usage = include_usage
        self._tools: dict[int, int] = {}  # IR block index -> tool-call index
        self._usage = ir.Usage()

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return data_frame(self._head + orjson.dumps([choice]) + b"}")

    def encode(self, event: ir.Event) -> bytes:
        match event:
            case ir.TextDelta():
                return self._chunk({"content": event.text}) if event.text else b""
            case ir.ThinkingDelta():
                return self._chunk({"reasoning_content": event.thinking}) if event.thinking else b""
            case ir.InputJsonDelta():
                if not event.partial_json:
                    return b""
                call = {
                    "index": self._tools[event.index],
                    "function": {"arguments": event.partial_json},
                }
                return self._chunk({"tool_calls": [call]})
            case ir.BlockStart():
                return self._start(event.index, event.block)
            case ir.SignatureDelta() | ir.BlockStop():
                # No chat-completions field carries a thinking signature, and blocks end silently.
                return b""
            case ir.MessageStart():
                self._usage = event.usage
                return self._chunk({"role": "assistant", "content": ""})
            case ir.MessageDelta():
                self._usage = event.usage
                return self._chunk({}, finish_reason(event.stop_reason, bool(self._tools)))
            case ir.MessageStop():
                if not self._include_usage:
                    return DONE
                usage = orjson.dumps(usage_json(self._usage))
                return data_frame(self._head + b'[],"usage":' + usage + b"}") + DONE
            case _:
                assert_never(event)

    def _start(
        self, index: int, block: ir.Text | ir.ToolUse | ir.Thinking | ir.ServerBlock
    ) -> bytes:
        match block:
            case ir.ServerToolUse() | ir.WebSearchResult() | ir.WebFetchResult():
                return b""  # only an Anthropic request can ask for server tools (servertools/)
            case ir.Text():
                return self._chunk({"content": block.text}) if block.text else b""
            case ir.Thinking():
                return self._chunk({"reasoning_content": block.thinking}) if block.thinking else b""
            case ir.ToolUse():
                n = self._tools[index] = len(self._tools)
                arguments = orjson.dumps(block.input).decode() if block.input else ""
                call = {
                    "index": n,
                    "id": block.id,
                    "type": "function",
                    "function": {"name": block.name, "arguments": arguments},
                }
                return self._chunk({"tool_calls": [call]})
            case _:
                assert_never(block)
