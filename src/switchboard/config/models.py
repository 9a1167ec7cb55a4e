"""The catalogue the config lists: models, the channels that serve them, what they can do and
cost, and the routes that send requests to them by scenario."""

from __future__ import annotations

from typing import Literal

import msgspec

from switchboard.config.base import Strict
from switchboard.kinds import CHAT_ENDPOINTS, Endpoint


class ChannelConfig(Strict, frozen=True):
    """One way to serve a model. Requests go to the healthy channels of the lowest `priority`,
    shared by `weight`. `api_key` overrides the provider's keys for this channel."""

    provider: str
    model: str
    priority: int = 0
    weight: int = 1
    api_key: str | None = None


class Capabilities(Strict, frozen=True):
    vision: bool = True
    pdf: bool = False
    tools: bool = True
    thinking: bool = False
    # The upstream caches prompt prefixes by itself (DeepSeek, Kimi, OpenAI...): cache_control
    # breakpoints are then not needed, and the loss report says so instead of "dropped".
    prompt_caching: bool = False


class Reasoning(Strict, frozen=True):
    """How a model's thinking is switched and what it needs back.

    control: how `thinking` is sent upstream: `none`; `reasoning_effort` (OpenAI, vLLM, Groq);
    `thinking` (a `{"type": "enabled"|"disabled"}` object: DeepSeek, Kimi, GLM, MiniMax);
    `enable_thinking` (DashScope, SiliconFlow: with `thinking_budget`); `chat_template` (vLLM,
    SGLang, llama.cpp `chat_template_kwargs.enable_thinking`); `openrouter` (`reasoning`).
    echo: whether earlier reasoning must be sent back on assistant turns (DeepSeek and Kimi
    thinking models answer 400 without it), under `echo_field`."""

    control: Literal[
        "none", "reasoning_effort", "thinking", "enable_thinking", "chat_template", "openrouter"
    ] = "none"
    echo: bool = False
    echo_field: Literal["reasoning_content", "reasoning"] = "reasoning_content"


class Pricing(Strict, frozen=True):
    """USD per million tokens. Cached tokens are input tokens: a cache price not given (None)
    is the input price, so that a model priced without one never serves input for free; an
    explicit 0 is kept (the operator's word that cached input is free)."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None

    @property
    def cache_read_price(self) -> float:
        return self.input if self.cache_read is None else self.cache_read

    @property
    def cache_write_price(self) -> float:
        return self.input if self.cache_write is None else self.cache_write


class ModelConfig(Strict, frozen=True):
    id: str
    channels: list[ChannelConfig]
    endpoints: list[Endpoint] = msgspec.field(default_factory=lambda: list(CHAT_ENDPOINTS))
    aliases: list[str] = []
    display_name: str | None = None
    created_at: str = "1970-01-01T00:00:00Z"  # RFC 3339; shown by GET /v1/models
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: Capabilities = Capabilities()
    reasoning: Reasoning = Reasoning()
    # None: not priced (keys with a budget are refused on it); `{}` prices it at zero.
    pricing: Pricing | None = None
    # Another name the model answers to and is listed under by `GET /v1/models`: Claude Code's
    # `/model` picker keeps only ids containing `claude` or `anthropic` (docs/claude-code.md).
    discovery_name: str | None = None


class RouteMatch(Strict, frozen=True):
    """What a route tests; every condition given must hold (none given: every request)."""

    model: str | None = None  # the name the client sent: exact, or a glob (`claude-*haiku*`)
    thinking: bool | None = None  # the request asks for thinking (or reasoning effort)
    input_tokens_over: int | None = None  # the request's input token estimate is above this
    has_tool: str | None = None  # a tool of this type (`web_search_20250305`) or name
    endpoint: Endpoint | None = None  # the surface it came in by: anthropic or openai


class RouteConfig(Strict, frozen=True):
    """Send the requests that `match` to the catalogue model `to` (routes.py)."""

    to: str
    match: RouteMatch = RouteMatch()


def is_glob(alias: str) -> bool:
    return any(ch in alias for ch in "*?[")
