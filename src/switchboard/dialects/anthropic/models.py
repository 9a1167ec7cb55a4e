"""Catalogue entries -> Anthropic `ModelInfo` objects and the cursor-paginated list envelope."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard.config import ModelConfig
from switchboard.errors import InvalidRequest


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def model_info(profile: ModelConfig) -> dict[str, Any]:
    caps = profile.capabilities
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
        "capabilities": {
            "image_input": _supported(caps.vision),
            "pdf_input": _supported(caps.pdf),
            "thinking": {
                "supported": caps.thinking,
                "types": {
                    "enabled": _supported(caps.thinking),
                    "disabled": _supported(True),
                    "adaptive": _supported(caps.thinking),
                },
            },
        },
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
