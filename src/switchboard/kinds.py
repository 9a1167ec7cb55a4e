"""Three names that must not be confused, though two of their values read alike ("openai",
"anthropic"):

    Dialect        what a client speaks: picks the surface's decoder and its error envelope
                   (api/surface.py; one per surface)
    Endpoint       which surfaces offer a model (`models[].endpoints` in the config)
    ProviderKind   how an upstream is reached: picks its factory (upstreams/registry.py)

Whether a request is relayed as-is (pass-through) is a property of the pair (the surface it
came in by, the provider kind of the channel), declared by the surface (`Inlet.relays` in
service.py), never a comparison of these names."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

# Open: each registered surface brings its own.
Dialect = NewType("Dialect", str)
# The Responses API's: named here because an upstream kind relays it too (upstreams/registry.py).
RESPONSES = Dialect("openai_responses")


class Endpoint(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    EMBEDDINGS = "embeddings"  # `POST /v1/embeddings`; never a default (config/models.py)


# What a model is offered on when its config names no endpoints: the chat surfaces.
CHAT_ENDPOINTS = (Endpoint.ANTHROPIC, Endpoint.OPENAI)


class ProviderKind(StrEnum):
    """One member per factory in upstreams/registry.py (a test keeps them equal)."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    VERTEX = "vertex"
    SCRIPTED = "scripted"
    BEDROCK = "bedrock"


# The provider kinds whose upstreams serve embeddings (their factories' `embeds`; a test keeps
# the two equal), for the config check of `endpoints: [embeddings]` models.
EMBEDDING_KINDS = frozenset({ProviderKind.OPENAI})
