"""Responses API replies as a provider that serves the Responses API sends them (for the
gateway's pass-through): a whole response object, and its typed event stream."""

from __future__ import annotations

import json
from typing import Any

from .replies import JsonReply, SSEReply


def responses_object(text: str, *, model: str, usage: tuple[int, int] = (12, 4)) -> dict[str, Any]:
    return {
        "id": "resp_upstream_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "model": model,
        "output": [
            {
                "id": "msg_upstream_1",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": usage[0],
            "input_tokens_details": {"cached_tokens": 2},
            "output_tokens": usage[1],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage[0] + usage[1],
        },
    }


def responses_reply(text: str, *, model: str) -> JsonReply:
    return JsonReply(responses_object(text, model=model))


def responses_stream(pieces: list[str], *, model: str) -> SSEReply:
    final = responses_object("".join(pieces), model=model)
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    item = final["output"][0]
    at = {"item_id": item["id"], "output_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
        {"type": "response.content_part.added", **at, "content_index": 0, "part": part},
        *[
            {
                "type": "response.output_text.delta",
                **at,
                "content_index": 0,
                "delta": p,
                "logprobs": [],
            }
            for p in pieces
        ],
        {
            "type": "response.output_text.done",
            **at,
            "content_index": 0,
            "text": "".join(pieces),
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            **at,
            "content_index": 0,
            "part": item["content"][0],
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": final},
    ]
    frames: list[str | bytes] = [
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': i})}\n\n"
        for i, e in enumerate(events)
    ]
    return SSEReply(frames)
