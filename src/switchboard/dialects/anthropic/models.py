"""Catalogue entries -> Anthropic `ModelInfo` objects and the cursor-paginated list envelope."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.config import Capabilities, ModelConfig
from switchboard.errors import InvalidRequest

_NO = {"supported": False}
_YES = {"supported": True}


def _supported(flag: bool) -> dict[str, bool]:
    return _YES if flag else _NO


# What the gateway offers or not whatever the model: the Message Batches API runs every model
# (docs/batches.md); citations, context management, effort levels, server tools and structured
# outputs are not translated (a pass-through upstream may still honour them; the gateway does
# not promise it).
_NOT_OFFERED: dict[str, Any] = {
    "batch": _YES,
    "citations": _NO,
    "code_execution": _NO,
    "context_management": {
        "supported": False,
        "clear_thinking_20251015": _NO,
        "clear_tool_uses_20250919": _NO,
        "compact_20260112": _NO,
    },
    "effort": {
        "supported": False,
        "low": _NO,
        "medium": _NO,
        "high": _NO,
        "max": _NO,
        "xhigh": _NO,
    },
    "server_tools": {"supported": False, "web_search": _NO, "code_execution": _NO},
    "structured_outputs": _NO,
}


def capabilities(caps: Capabilities) -> dict[str, Any]:
    """The SDKs' `ModelCapabilities`: every key present (the SDK types of 0.125 and 2.x require
    all of them), each saying what a request through the gateway gets."""
    thinking = caps.thinking
    return {
        **_NOT_OFFERED,
        "image_input": _supported(caps.vision),
        "pdf_input": _supported(caps.pdf),
        "thinking": {
            "supported": thinking,
            "types": {
                "enabled": _supported(thinking),
                "adaptive": _supported(thinking),
                # Taken as adaptive thinking (dialects/anthropic/request.py).
                "between_tools": _supported(thinking),
                "disabled": _YES,
            },
        },
    }


def model_info(profile: ModelConfig) -> dict[str, Any]:
    return {
        "type": "model",
        "id": profile.id,
        "display_name": profile.display_name or profile.id,
        "created_at": profile.created_at,
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "max_input_tokens": profile.context_window,
        "max_tokens": profile.max_output_tokens,
        "capabilities": capabilities(profile.capabilities),
    }


def page(
    profiles: list[ModelConfig], *, limit: int, after_id: str | None, before_id: str | None
) -> bytes:
    """A page as both SDKs read it: `has_more`, `first_id` and `last_id` always present."""
    ids = [p.id for p in profiles]
    start, end = 0, len(profiles)
    if after_id is not None:
        if after_id not in ids:
            raise InvalidRequest(f"after_id: unknown model '{after_id}'", param="after_id")
        start = ids.index(after_id) + 1
        end = min(start + limit, len(profiles))
    elif before_id is not None:
        if before_id not in ids:
            raise InvalidRequest(f"before_id: unknown model '{before_id}'", param="before_id")
        end = ids.index(before_id)
        start = max(end - limit, 0)
    else:
        end = min(limit, len(profiles))
    chosen = profiles[start:end]
    has_more = end < len(profiles) if before_id is None else start > 0
    return orjson.dumps(
        {
            "data": [model_info(p) for p in chosen],
            "has_more": has_more,
            "first_id": chosen[0].id if chosen else None,
            "last_id": chosen[-1].id if chosen else None,
        }
    )
