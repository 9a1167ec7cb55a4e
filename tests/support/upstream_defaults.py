"""What ScriptedUpstream answers when no reply is queued: a plausible echo per route."""

from __future__ import annotations

from typing import Any

from .anthropic_wire import anthropic_message, anthropic_stream
from .openai_wire import openai_completion, openai_stream
from .replies import JsonReply, SSEReply

# Shaped to satisfy both SDKs' model-list parsers at once: OpenAI reads object/created/owned_by,
# Anthropic reads type/display_name/created_at and pages on has_more/first_id/last_id.
_MODEL_IDS = ("upstream-model", "claude-upstream")
MODELS_BODY: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": model_id,
            "object": "model",
            "created": 1_700_000_000,
            "owned_by": "mock",
            "type": "model",
            "display_name": model_id,
            "created_at": "2023-11-14T22:13:20Z",
        }
        for model_id in _MODEL_IDS
    ],
    "has_more": False,
    "first_id": _MODEL_IDS[0],
    "last_id": _MODEL_IDS[-1],
}


def _request_model(body: object, fallback: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        return str(body["model"])
    return fallback


def _wants_stream(body: object) -> bool:
    return isinstance(body, dict) and body.get("stream") is True


def default_reply(method: str, path: str, body: object) -> JsonReply | SSEReply:
    """Echo behaviour: "ok" answers that name the requested model; 404 for unknown routes."""
    if method == "POST" and path == "/v1/chat/completions":
        model = _request_model(body, "upstream-model")
        if _wants_stream(body):
            return openai_stream(["o", "k"], model=model)
        return openai_completion("ok", model=model)
    if method == "POST" and path == "/v1/messages":
        model = _request_model(body, "claude-upstream")
        if _wants_stream(body):
            return anthropic_stream(["o", "k"], usage=(10, 2), model=model)
        return anthropic_message("ok", usage=(10, 2), model=model)
    if method == "POST" and path == "/v1/messages/count_tokens":
        return JsonReply({"input_tokens": 42})
    if method == "GET" and path == "/v1/models":
        return JsonReply(MODELS_BODY)
    return JsonReply(
        {"error": {"message": f"no route {method} {path}", "type": "not_found"}}, status=404
    )
