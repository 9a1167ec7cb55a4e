"""Input-token estimates without a tokenizer (never tokenize on the hot path), calibrated per
model from the prompt-token counts upstreams actually report."""

from __future__ import annotations

from typing import assert_never

import orjson

from switchboard import ir

IMAGE_TOKENS = 1600  # Anthropic's figure for a ~1.15-megapixel image
MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 10


def _text_tokens(text: str) -> float:
    if text.isascii():  # most prompts: no copy of the text to count its ASCII characters
        return len(text) / 4
    ascii_chars = len(text.encode("ascii", "ignore"))
    # Latin text runs ~4 characters a token; CJK and other scripts nearer one.
    return ascii_chars / 4 + (len(text) - ascii_chars) * 0.9


def cut_to_tokens(text: str, tokens: int) -> str:
    """The longest start of `text` that `_text_tokens` puts at `tokens` or fewer: 4 characters
    a token for ASCII, fewer for other scripts (what a fetched page's `max_content_tokens`
    keeps). A character costs at least a quarter token, so the cut is within `4 * tokens`
    characters; past ASCII, a binary search of that span (each step one C-speed count)."""
    end = min(len(text), 4 * tokens)
    head = text[:end]
    if head.isascii() or _text_tokens(head) <= tokens:
        return head
    low, high = 0, end  # _text_tokens(text[:low]) <= tokens < _text_tokens(text[:high])
    while high - low > 1:
        middle = (low + high) // 2
        if _text_tokens(text[:middle]) <= tokens:
            low = middle
        else:
            high = middle
    return text[:low]


def _json_tokens(data: bytes) -> float:
    """`_text_tokens` of JSON text as orjson writes it (UTF-8), decoded only if not ASCII."""
    return len(data) / 4 if data.isascii() else _text_tokens(data.decode())


def _block_tokens(block: ir.Block) -> float:
    match block:
        case ir.Text():
            return _text_tokens(block.text)
        case ir.Image():
            return IMAGE_TOKENS
        case ir.Document():
            if block.text is not None:
                return _text_tokens(block.text)
            return len(block.data or "") * 3 / 4 / 4  # decoded PDF bytes, ~4 bytes a token
        case ir.ToolUse():
            return _text_tokens(block.name) + _json_tokens(orjson.dumps(block.input))
        case ir.ToolResult():
            return 5 + sum(_block_tokens(part) for part in block.content)
        case ir.Thinking():
            return _text_tokens(block.thinking)
        case ir.RedactedThinking():
            return len(block.data) / 4
        case _:
            assert_never(block)


def estimate_tokens(request: ir.Request) -> int:
    total: float = sum(_text_tokens(t.text) for t in request.system)
    for message in request.messages:
        total += MESSAGE_OVERHEAD + sum(_block_tokens(b) for b in message.content)
    for tool in request.tools:
        schema = orjson.dumps(tool.input_schema)
        total += (
            TOOL_OVERHEAD
            + _text_tokens(tool.name)
            + _text_tokens(tool.description or "")
            + _json_tokens(schema)
        )
    return max(1, round(total))


class Calibration:
    """Per model, the ratio of what upstreams report to what `estimate_tokens` said, smoothed.
    Lives on the app; fed by finished requests."""

    ALPHA = 0.3

    def __init__(self) -> None:
        self._ratio: dict[str, float] = {}

    def observe(self, model: str, estimate: int, actual: int) -> None:
        if estimate <= 0 or actual <= 0:
            return
        ratio = min(max(actual / estimate, 0.1), 10.0)
        old = self._ratio.get(model)
        self._ratio[model] = ratio if old is None else old + self.ALPHA * (ratio - old)

    def adjust(self, model: str, estimate: int) -> int:
        return max(1, round(estimate * self._ratio.get(model, 1.0)))
