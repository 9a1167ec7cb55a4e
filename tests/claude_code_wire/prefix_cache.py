"""An OpenAI-dialect upstream with automatic prefix caching, as DeepSeek, Kimi, vLLM and SGLang
have, scripted on loopback: it reports `usage.prompt_tokens_details.cached_tokens` as the length
of the longest prefix of the prompt it has received before.

The prompt is tokenized in one fixed, simple way: the upstream renders it as a Qwen-style chat
template does (the leading system message, then the tools, then the other messages, each as
its JSON with sorted keys), and a token is a run of word characters or one other non-space
character (`\\w+|[^\\w\\s]`). Not any vendor's tokenizer, but every prefix cache matches the
rendered prompt from its first token, and that is what the measure needs."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.support.mock_upstream import JsonReply, Received, Reply, ScriptedUpstream, SSEReply

TOKEN = re.compile(r"\w+|[^\w\s]")


def rendered(body: dict[str, Any]) -> list[str]:
    """The prompt's tokens, in the order the template writes them."""
    messages = body.get("messages", [])
    head = messages[:1] if messages and messages[0].get("role") == "system" else []
    parts = [*head, {"tools": body.get("tools", [])}, *messages[len(head) :]]
    return TOKEN.findall("".join(json.dumps(p, sort_keys=True) for p in parts))


def common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class Seen:
    prompt_tokens: int
    cached_tokens: int


class PrefixCache:
    """The longest previously seen prefix of each prompt (every prompt is kept: a replay is a
    few dozen requests)."""

    def __init__(self) -> None:
        self._prompts: list[list[str]] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []

    def admit(self, tokens: list[str]) -> Seen:
        with self._lock:
            cached = max((common_prefix(p, tokens) for p in self._prompts), default=0)
            self._prompts.append(tokens)
            seen = Seen(len(tokens), cached)
            self.seen.append(seen)
            return seen


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-cache",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "cache-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class PrefixCachingUpstream(ScriptedUpstream):
    """The suite's ScriptedUpstream answering every chat completion with a short text and the
    usage its prefix cache gives."""

    OUTPUT_TOKENS = 20

    def __init__(self) -> None:
        self.cache = PrefixCache()
        super().__init__(responder=self._reply)

    def _reply(self, request: Received) -> Reply:
        body: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
        seen = self.cache.admit(rendered(body))
        usage = {
            "prompt_tokens": seen.prompt_tokens,
            "completion_tokens": self.OUTPUT_TOKENS,
            "total_tokens": seen.prompt_tokens + self.OUTPUT_TOKENS,
            "prompt_tokens_details": {"cached_tokens": seen.cached_tokens},
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": "ok"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return JsonReply(
                {
                    "id": "chatcmpl-cache",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": "cache-model",
                    "choices": [choice],
                    "usage": usage,
                }
            )
        frames: list[str | bytes] = [
            _chunk({"role": "assistant", "content": "ok"}),
            _chunk({}, "stop"),
            b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n",
            b"data: [DONE]\n\n",
        ]
        return SSEReply(frames)
