"""Reversible mappings between Anthropic and OpenAI identifiers.

Tool-call ids: Anthropic accepts only `^[a-zA-Z0-9_-]+$`; upstreams send ids such as
`functions.Bash:0` (Kimi). Such ids are wrapped as `toolu_sb_<base64url>` and unwrapped when the
client sends them back, so no table has to outlive the request.

Tool names: OpenAI functions allow at most 64 characters of `[a-zA-Z0-9_-]`; other names get a
sanitised, unique stand-in for the length of one request."""

from __future__ import annotations

import base64
import hashlib
import re

_SAFE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_SAFE_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_WRAP = "toolu_sb_"


def client_tool_id(upstream_id: str) -> str:
    if _SAFE_ID.match(upstream_id) and not upstream_id.startswith(_WRAP):
        return upstream_id
    encoded = base64.urlsafe_b64encode(upstream_id.encode()).decode().rstrip("=")
    return _WRAP + encoded


def upstream_tool_id(client_id: str) -> str:
    if not client_id.startswith(_WRAP):
        return client_id
    encoded = client_id.removeprefix(_WRAP)
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return client_id


def upstream_tool_name(name: str, taken: set[str]) -> str:
    if _SAFE_NAME.match(name) and name not in taken:
        return name
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name) or "tool"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    candidate = cleaned if len(cleaned) <= 64 and cleaned not in taken else ""
    if not candidate:
        candidate = f"{cleaned[:55]}_{digest}"
    n = 0
    while candidate in taken:
        n += 1
        candidate = f"{cleaned[:50]}_{digest}{n}"
    return candidate
