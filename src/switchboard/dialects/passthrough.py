"""What the same-format pass-throughs (anthropic/, openai_chat/, openai_responses/
passthrough.py) share: a whole relayed reply with only `model` changed back. Pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from switchboard import ir


def rewrite_reply(
    body: bytes, model: str, usage: Callable[[Any], ir.Usage]
) -> tuple[bytes, ir.Usage]:
    """The reply with the client's `model`, and its usage (`usage` reads the reply's `usage`
    field, whatever it holds). Raises ValueError for a reply that is not a JSON object."""
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    data["model"] = model
    return orjson.dumps(data), usage(data.get("usage"))
