"""Strict checker for Anthropic Messages event streams (anthropic-messages-api.md section 5).

The SDKs tolerate much less than the spec suggests (see section 5.4): a gap in block indices is an
IndexError in Python, interleaved blocks corrupt the TS listeners, a missing message_stop makes
TS ``finalMessage()`` throw. Gateway tests run every stream they produce through
:func:`validate_anthropic_stream` so such bugs fail loudly with the event index and the rule.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from .sse import SSEEvent, parse_sse

STOP_REASONS = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
# Which delta types each streamable block kind accepts; blocks not listed take no deltas at all
# (redacted_thinking and the *_tool_result blocks arrive whole in content_block_start).
DELTA_KINDS: dict[str, frozenset[str]] = {
    "text": frozenset({"text_delta", "citations_delta"}),
    "tool_use": frozenset({"input_json_delta"}),
    "server_tool_use": frozenset({"input_json_delta"}),
    "thinking": frozenset({"thinking_delta", "signature_delta"}),
}
_WHOLE_BLOCKS = frozenset({"redacted_thinking"})
_EVENT_TYPES = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    }
)
_DELTA_FIELD = {
    "text_delta": "text",
    "input_json_delta": "partial_json",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
}


class StreamGrammarError(AssertionError):
    """The stream breaks a rule; ``index`` is the offending event (len(events) for 'at end')."""

    def __init__(self, index: int, rule: str, detail: str) -> None:
        super().__init__(f"event #{index}: {rule}: {detail}")
        self.index = index
        self.rule = rule
        self.detail = detail


class StreamErrorEvent(Exception):
    """accumulate_message() met a (grammatical) final ``error`` event; ``error`` is its payload."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"stream ended with error event: {error}")
        self.error = error


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _decode(events: Sequence[SSEEvent] | bytes | str) -> list[dict[str, Any]]:
    seq = parse_sse(events) if isinstance(events, bytes | str) else events
    if not seq:
        raise StreamGrammarError(0, "empty stream", "no events at all")
    decoded: list[dict[str, Any]] = []
    for i, ev in enumerate(seq):
        if ev.data.strip() == "[DONE]":
            raise StreamGrammarError(
                i, "no [DONE]", "Anthropic streams never send a [DONE] sentinel"
            )
        if ev.event is None:
            raise StreamGrammarError(i, "unnamed event", "every event needs an 'event:' line")
        try:
            data = json.loads(ev.data)
        except ValueError as exc:
            raise StreamGrammarError(i, "data is JSON", f"{exc}: {ev.data[:80]!r}") from exc
        if not isinstance(data, dict):
            raise StreamGrammarError(i, "data is an object", f"got {type(data).__name__}")
        if data.get("type") != ev.event:
            raise StreamGrammarError(
                i, "event name == data.type", f"event {ev.event!r} but type {data.get('type')!r}"
            )
        if ev.event not in _EVENT_TYPES:
            raise StreamGrammarError(i, "known event type", f"unexpected event {ev.event!r}")
        decoded.append(data)
    return decoded


class _Checker:
    """State machine over decoded events; one instance per stream."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.started = False
        self.open: tuple[int, str] | None = None  # (index, block type)
        self.next_index = 0
        self.json_parts: list[str] = []
        self.saw_message_delta = False
        self.stopped = False

    def fail(self, i: int, rule: str, detail: str) -> StreamGrammarError:
        return StreamGrammarError(i, rule, detail)

    def check(self, i: int, ev: dict[str, Any]) -> None:
        kind = ev["type"]
        if self.stopped:
            raise self.fail(i, "message_stop is last", f"{kind} after message_stop")
        if kind == "ping":
            return
        if kind == "error":
            self.check_error(i, ev)
            return
        if not self.started and kind != "message_start":
            raise self.fail(i, "message_start first", f"{kind} before message_start")
        getattr(self, f"on_{kind}")(i, ev)

    def check_error(self, i: int, ev: dict[str, Any]) -> None:
        if i != self.count - 1:
            raise self.fail(i, "error is final", "events follow the error event")
        err = ev.get("error")
        if not (
            isinstance(err, dict)
            and isinstance(err.get("type"), str)
            and isinstance(err.get("message"), str)
        ):
            raise self.fail(i, "error shape", f"need error.type and error.message strings: {ev}")

    def on_message_start(self, i: int, ev: dict[str, Any]) -> None:
        if self.started:
            raise self.fail(i, "one message_start", "second message_start")
        self.started = True
        msg = ev.get("message")
        if not isinstance(msg, dict):
            raise self.fail(i, "message_start.message", "missing message object")
        expected: dict[str, Any] = {
            "type": "message",
            "role": "assistant",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        for key, want in expected.items():
            if key not in msg or msg[key] != want:
                raise self.fail(
                    i, f"message_start.message.{key}", f"want {want!r}, got {msg.get(key)!r}"
                )
        for key in ("id", "model"):
            if not isinstance(msg.get(key), str) or not msg[key]:
                raise self.fail(i, f"message_start.message.{key}", "must be a non-empty string")
        usage = msg.get("usage")
        if not (isinstance(usage, dict) and _is_int(usage.get("input_tokens"))):
            raise self.fail(i, "message_start usage", f"need int input_tokens: {usage!r}")
        if not _is_int(usage.get("output_tokens")):
            raise self.fail(i, "message_start usage", f"need int output_tokens: {usage!r}")

    def on_content_block_start(self, i: int, ev: dict[str, Any]) -> None:
        if self.saw_message_delta:
            raise self.fail(
                i, "blocks before message_delta", "content_block_start after message_delta"
            )
        if self.open is not None:
            raise self.fail(i, "one open block", f"block {self.open[0]} is still open")
        if ev.get("index") != self.next_index:
            raise self.fail(
                i, "block indices 0..n-1", f"want {self.next_index}, got {ev.get('index')!r}"
            )
        block = ev.get("content_block")
        btype = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict) or not isinstance(btype, str):
            raise self.fail(i, "content_block", f"missing typed content_block: {block!r}")
        if btype == "tool_use" and not (
            isinstance(block.get("id"), str) and isinstance(block.get("name"), str)
        ):
            raise self.fail(i, "tool_use block", "needs string id and name")
        if btype in ("tool_use", "server_tool_use") and block.get("input") != {}:
            raise self.fail(i, "tool_use block", "input must start as {}")
        if (
            btype not in DELTA_KINDS
            and btype not in _WHOLE_BLOCKS
            and not btype.endswith("_tool_result")
        ):
            raise self.fail(i, "known block type", f"unexpected block type {btype!r}")
        self.open = (self.next_index, btype)
        self.next_index += 1
        self.json_parts = []

    def on_content_block_delta(self, i: int, ev: dict[str, Any]) -> None:
        if self.open is None or ev.get("index") != self.open[0]:
            raise self.fail(
                i, "delta for the open block", f"index {ev.get('index')!r}, open {self.open}"
            )
        delta = ev.get("delta")
        dtype = delta.get("type") if isinstance(delta, dict) else None
        allowed = DELTA_KINDS.get(self.open[1], frozenset())
        if not isinstance(delta, dict) or dtype not in allowed:
            raise self.fail(i, "delta kind matches block", f"{dtype!r} in a {self.open[1]} block")
        field = _DELTA_FIELD.get(str(dtype))
        if field is not None and not isinstance(delta.get(field), str):
            raise self.fail(i, "delta payload", f"{dtype} needs a string {field!r}")
        if dtype == "input_json_delta":
            self.json_parts.append(delta["partial_json"])

    def on_content_block_stop(self, i: int, ev: dict[str, Any]) -> None:
        if self.open is None or ev.get("index") != self.open[0]:
            raise self.fail(
                i, "stop the open block", f"index {ev.get('index')!r}, open {self.open}"
            )
        if self.open[1] in ("tool_use", "server_tool_use"):
            raw = "".join(self.json_parts)
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError as exc:
                raise self.fail(i, "tool input is JSON", f"{exc}: {raw[:80]!r}") from exc
            if not isinstance(parsed, dict):
                raise self.fail(i, "tool input is JSON", f"not an object: {raw[:80]!r}")
        self.open = None

    def on_message_delta(self, i: int, ev: dict[str, Any]) -> None:
        if self.open is not None:
            raise self.fail(i, "blocks closed before message_delta", f"block {self.open[0]} open")
        delta, usage = ev.get("delta"), ev.get("usage")
        if not isinstance(delta, dict) or delta.get("stop_reason") not in STOP_REASONS:
            got = delta.get("stop_reason") if isinstance(delta, dict) else delta
            raise self.fail(i, "message_delta.stop_reason", f"{got!r} is not a stop reason")
        if not (isinstance(usage, dict) and _is_int(usage.get("output_tokens"))):
            raise self.fail(i, "message_delta.usage", f"need int output_tokens: {usage!r}")
        self.saw_message_delta = True

    def on_message_stop(self, i: int, ev: dict[str, Any]) -> None:
        if not self.saw_message_delta:
            raise self.fail(i, "message_delta before message_stop", "no message_delta seen")
        self.stopped = True

    def finish(self, events: list[dict[str, Any]]) -> None:
        if events[-1]["type"] == "error":
            return
        if not self.stopped:
            raise self.fail(self.count, "message_stop is last", "stream ended without message_stop")


def validate_anthropic_stream(events: Sequence[SSEEvent] | bytes | str) -> list[dict[str, Any]]:
    """Raise StreamGrammarError unless ``events`` follow section 5 exactly; return the data dicts.

    Raw bytes/str are parsed with :func:`parse_sse` first.
    """
    decoded = _decode(events)
    checker = _Checker(len(decoded))
    for i, ev in enumerate(decoded):
        checker.check(i, ev)
    checker.finish(decoded)
    return decoded


def accumulate_message(events: Sequence[SSEEvent] | bytes | str) -> dict[str, Any]:
    """Validate, then rebuild the final Message the way the SDKs' MessageStream does.

    Raises StreamErrorEvent if the stream ends with an ``error`` event.
    """
    decoded = validate_anthropic_stream(events)
    message: dict[str, Any] = {}
    partial_json: dict[int, str] = {}
    for ev in decoded:
        kind = ev["type"]
        if kind == "error":
            raise StreamErrorEvent(ev["error"])
        if kind == "message_start":
            message = copy.deepcopy(ev["message"])
        elif kind == "content_block_start":
            message["content"].append(copy.deepcopy(ev["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][ev["index"]], ev["delta"]
            if delta["type"] == "input_json_delta":
                partial_json[ev["index"]] = (
                    partial_json.get(ev["index"], "") + delta["partial_json"]
                )
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            else:
                field = _DELTA_FIELD[delta["type"]]
                block[field] = block.get(field, "") + delta[field]
        elif kind == "content_block_stop" and ev["index"] in partial_json:
            raw = partial_json[ev["index"]]
            message["content"][ev["index"]]["input"] = json.loads(raw) if raw else {}
        elif kind == "message_delta":
            message.update(ev["delta"])
            # Both SDKs overwrite (never add) the usage fields a message_delta carries.
            message["usage"].update(ev["usage"])
    return message
