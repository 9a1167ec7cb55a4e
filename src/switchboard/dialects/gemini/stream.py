"""`streamGenerateContent?alt=sse` chunks -> IR stream events in Anthropic's grammar.

Each chunk is a whole `GenerateContentResponse` holding the next parts: text and thought text
arrive in pieces, a function call arrives whole. Text and thoughts stream live, each switch
closing the open block; a function call is one whole block. A `thoughtSignature` on a thought
part signs that thinking block; one on a text or call part becomes an empty thinking block of its
own just before the call (or where it arrived, for text), as in the non-stream decoder. There is
no end marker: the chunk with a `finishReason` is the last, and its usage is the final count."""

from __future__ import annotations

import msgspec
import orjson

from switchboard import ir
from switchboard.dialects.blocks import BlockStream
from switchboard.dialects.gemini import wire
from switchboard.dialects.gemini.errors import status_retry_delay
from switchboard.dialects.gemini.response import Seal, stop_reason, tool_use, usage
from switchboard.errors import UpstreamError

_decode_chunk = msgspec.json.Decoder(wire.Response).decode


class StreamDecoder(BlockStream):
    """Feed it each SSE `data` payload; `finish()` at the end of the stream."""

    def __init__(
        self, *, provider: str, input_estimate: int, tool_names: dict[str, str], seal: Seal
    ) -> None:
        super().__init__(provider=provider, input_estimate=input_estimate, tool_names=tool_names)
        self._seal = seal
        self._thought_sig = ""
        self._had_calls = False
        self._finish: str | None = None
        self._blocked: str | None = None
        self._usage: wire.UsageMetadata | None = None

    def feed(self, data: bytes) -> list[ir.Event]:
        try:
            chunk = _decode_chunk(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise UpstreamError.malformed(self._provider, f"bad stream chunk: {exc}") from None
        if chunk.error is not None:
            err = chunk.error
            code = err.code if isinstance(err.code, int) and 400 <= err.code < 600 else 502
            message = f"{err.status}: {err.message}" if err.status else (err.message or "error")
            raise UpstreamError.from_status(
                code,
                f"error in stream: {message}",
                provider=self._provider,
                retry_after=status_retry_delay(err),
            )
        events: list[ir.Event] = []
        if not self._started:
            self._started = True
            events.append(ir.MessageStart(ir.Usage(input_tokens=self._estimate)))
        if chunk.usage_metadata is not None:
            self._usage = chunk.usage_metadata
        if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
            self._blocked = chunk.prompt_feedback.block_reason
        for candidate in chunk.candidates or ():
            if candidate.index != 0:
                continue
            if candidate.content is not None:
                for part in candidate.content.parts or ():
                    self._part(part, events)
            if candidate.finish_reason is not None:
                self._finish = candidate.finish_reason
        return events

    def finish(self) -> list[ir.Event]:
        self._check_finished(self._finish is not None or self._blocked is not None)
        events: list[ir.Event] = []
        self._close(events)
        if self._blocked is not None and self._finish is None:
            self.notes.append(f"prompt blocked: {self._blocked}")
            reason: ir.StopReason = "refusal"
        else:
            reason = stop_reason(self._finish, self._had_calls, self.notes)
        events.append(ir.MessageDelta(reason, self.usage))
        events.append(ir.MessageStop())
        self.finished = True
        return events

    @property
    def usage(self) -> ir.Usage:
        """What the upstream reported (every chunk carries the counts so far); before it has,
        an estimate."""
        if self._usage is not None:
            return usage(self._usage)
        return self._estimated_usage()

    def _part(self, part: wire.Part, out: list[ir.Event]) -> None:
        if part.thought:
            text = part.text or ""
            self._generated += len(text)
            if self._open != "thinking":
                self._close(out)
                self._start(ir.Thinking(""), "thinking", out)
            if text:
                self._thinking.append(text)
                out.append(ir.ThinkingDelta(self._open_index, text))
            if part.thought_signature:
                self._thought_sig = part.thought_signature
            return
        if part.function_call is not None:
            self._close(out)
            if part.thought_signature:
                self._signature_block(part.thought_signature, out)
            block = tool_use(part.function_call, self._names)
            self._had_calls = True
            args = orjson.dumps(block.input).decode()
            self._generated += len(args)
            index = self._start(ir.ToolUse(block.id, block.name, {}), "tool", out)
            out.append(ir.InputJsonDelta(index, args))
            self._close(out)
            return
        text = part.text or ""
        if text:
            self._generated += len(text)
            if self._open != "text":
                self._close(out)
                self._start(ir.Text(""), "text", out)
            out.append(ir.TextDelta(self._open_index, text))
        if part.thought_signature:
            self._close(out)
            self._signature_block(part.thought_signature, out)

    def _signature_block(self, signature: str, out: list[ir.Event]) -> None:
        index = self._start(ir.Thinking(""), "signature", out)
        out.append(ir.SignatureDelta(index, self._seal("", signature)))
        out.append(ir.BlockStop(index))
        self._open = None

    def _stop_thinking(self, out: list[ir.Event]) -> None:
        text = "".join(self._thinking)
        out.append(ir.SignatureDelta(self._open_index, self._seal(text, self._thought_sig)))
        self._thinking.clear()
        self._thought_sig = ""
