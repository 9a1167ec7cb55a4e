"""Which `anthropic-beta` flags an Anthropic-dialect upstream is given on pass-through.

Claude Code sends a long list (`claude-code-20250219`, `interleaved-thinking-2025-05-14`,
`context-management-2025-06-27`, `advanced-tool-use-2025-11-20`, ...). Anthropic takes them all;
other vendors' Anthropic endpoints answer 400 for a flag they do not know, and the request
fails for one header value the model never needed. So each provider has an allow-list: its
`betas:` in the config, else the built-in one of its vendor below, else (Anthropic itself, and
Anthropic-dialect servers not listed here) every flag goes through. The flags left out are
reported in the request's loss report (`switchboard-dropped`). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from switchboard.config import ProviderConfig
from switchboard.kinds import ProviderKind

HEADER = "anthropic-beta"

# The flags Bedrock documents for Claude (its `anthropic_beta` body field), late 2026.
_BEDROCK = frozenset(
    {
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "fine-grained-tool-streaming-2025-05-14",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "dev-full-thinking-2025-05-14",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "tool-search-tool-2025-10-19",
        "tool-examples-2025-10-29",
    }
)
# Vertex AI's Claude models: the subset Google documents.
_VERTEX = frozenset(
    {
        "computer-use-2025-01-24",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
    }
)


@dataclass(frozen=True, slots=True)
class Vendor:
    """An Anthropic-dialect vendor, known by the host of its base URL: the host itself, a name
    under it, or a regional name (`us-east5-aiplatform.googleapis.com`)."""

    name: str
    hosts: tuple[str, ...]
    flags: frozenset[str]


# DeepSeek ignores anthropic-beta on /messages and Moonshot does not document what it takes:
# neither needs any, so none is sent (an operator who knows better lists them in `betas:`).
VENDORS: tuple[Vendor, ...] = (
    Vendor("DeepSeek", ("api.deepseek.com",), frozenset()),
    Vendor("Moonshot", ("api.moonshot.ai", "api.moonshot.cn"), frozenset()),
    Vendor("Bedrock", ("amazonaws.com",), _BEDROCK),
    Vendor("Vertex AI", ("aiplatform.googleapis.com",), _VERTEX),
)
# Provider kinds that are one vendor whatever their base URL.
KINDS: Mapping[ProviderKind, frozenset[str]] = {
    ProviderKind.BEDROCK: _BEDROCK,
    ProviderKind.VERTEX: _VERTEX,
}


def allowed(provider: ProviderConfig) -> frozenset[str] | None:
    """The flags `provider` may be sent; None: all of them."""
    if provider.betas is not None:
        return frozenset(provider.betas)
    if provider.kind in KINDS:
        return KINDS[provider.kind]
    host = (urlsplit(provider.base_url).hostname or "").lower()
    for vendor in VENDORS:
        if any(host == h or host.endswith(("." + h, "-" + h)) for h in vendor.hosts):
            return vendor.flags
    return None


def split(value: str, allow: frozenset[str] | None) -> tuple[str, list[str]]:
    """(the header value to send, the flags left out), from the client's comma-separated
    value; the order and spelling of the kept flags are the client's."""
    if allow is None:
        return value, []
    kept: list[str] = []
    removed: list[str] = []
    for flag in (f.strip() for f in value.split(",")):
        if flag:
            (kept if flag in allow else removed).append(flag)
    return ",".join(kept), removed


def filtered(
    headers: Mapping[str, str], provider: ProviderConfig
) -> tuple[Mapping[str, str], list[str]]:
    """The forwarded headers with `anthropic-beta` cut to what `provider` takes, and the loss
    report's entries for what was left out."""
    value = headers.get(HEADER)
    if not value:
        return headers, []
    kept, removed = split(value, allowed(provider))
    if not removed:
        return headers, []
    out = {k: v for k, v in headers.items() if k != HEADER}
    if kept:
        out[HEADER] = kept
    return out, [f"anthropic-beta {flag} (not taken by {provider.name})" for flag in removed]
