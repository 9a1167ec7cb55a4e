"""Upstream kinds by name: one factory per `ProviderKind` (kinds.py). A factory builds the kind's
upstream once per app, with the optional abilities it has (pass-through, exact token counts);
the pipeline (service.py) dispatches on the channel's kind through what these build.

A new upstream kind: its module here, a member of `ProviderKind`, and one entry in `UPSTREAMS`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from switchboard.catalog import Channel
from switchboard.kinds import ProviderKind
from switchboard.signing import ThinkingSigner
from switchboard.upstreams.anthropic import AnthropicUpstream
from switchboard.upstreams.base import (
    CountsRelayed,
    CountsTranslated,
    Embeds,
    PassThrough,
    Upstream,
)
from switchboard.upstreams.bedrock import BedrockUpstream
from switchboard.upstreams.gemini import GeminiUpstream
from switchboard.upstreams.http import HttpClient
from switchboard.upstreams.openai import OpenAIUpstream
from switchboard.upstreams.scripted import ScriptedUpstream
from switchboard.upstreams.vertex import VertexUpstream


@dataclass(frozen=True, slots=True)
class Parts:
    """What factories build upstreams from: the process's one HTTP client, and the signer of
    thinking blocks that cross to other providers."""

    http: HttpClient
    signer: ThinkingSigner


@dataclass(frozen=True, slots=True)
class Built:
    """One kind's upstream and its optional abilities (None: it has not that ability)."""

    upstream: Upstream
    # Relays bodies of its own wire format unchanged but for `model` (for the surfaces that
    # declare this kind in their `Inlet.relays`).
    relay: PassThrough | None = None
    # A kind that relays only some of its channels (Bedrock: Claude models speak Messages,
    # the others Converse) says which; None: every channel of the kind.
    relays_channel: Callable[[Channel], bool] | None = None
    count_relayed: CountsRelayed | None = None
    count_translated: CountsTranslated | None = None
    embeds: Embeds | None = None


Factory = Callable[[Parts], Built]


def _anthropic(parts: Parts) -> Built:
    upstream = AnthropicUpstream(parts.http)
    return Built(upstream, relay=upstream, count_relayed=upstream)


def _openai(parts: Parts) -> Built:
    upstream = OpenAIUpstream(parts.http, parts.signer)
    return Built(upstream, relay=upstream, count_translated=upstream, embeds=upstream)


def _gemini(parts: Parts) -> Built:
    upstream = GeminiUpstream(parts.http, parts.signer)
    return Built(upstream, count_translated=upstream)


def _vertex(parts: Parts) -> Built:
    return Built(VertexUpstream(parts.http, parts.signer))


def _bedrock(parts: Parts) -> Built:
    upstream = BedrockUpstream(parts.http)  # botocore is imported at its first request
    return Built(
        upstream, relay=upstream, relays_channel=BedrockUpstream.relays, count_relayed=upstream
    )


def _scripted(parts: Parts) -> Built:
    return Built(ScriptedUpstream())


UPSTREAMS: Mapping[ProviderKind, Factory] = MappingProxyType(
    {
        ProviderKind.OPENAI: _openai,
        ProviderKind.ANTHROPIC: _anthropic,
        ProviderKind.GEMINI: _gemini,
        ProviderKind.VERTEX: _vertex,
        ProviderKind.SCRIPTED: _scripted,
        ProviderKind.BEDROCK: _bedrock,
    }
)
