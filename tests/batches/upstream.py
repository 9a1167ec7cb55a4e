"""The scripted upstream batch tests run against: it answers each request with the marker the
request carries (`m:<marker>` in its last message), so a test can count, per marker, how many
times a request reached the upstream. A marker starting with `slow` is answered after a pause
(a batch still running when the gateway is killed)."""

from __future__ import annotations

import re
from collections import Counter

from tests.support.mock_upstream import (
    HangReply,
    Received,
    Reply,
    ScriptedUpstream,
    anthropic_message,
    openai_completion,
)
from tests.support.upstream_defaults import default_reply

MARKER = re.compile(r"m:([A-Za-z0-9_-]+)")
SLOW_SECONDS = 1.5


def marker_of(rec: Received) -> str | None:
    found = MARKER.search(rec.body.decode("utf-8", "replace"))
    return found.group(1) if found else None


def respond(rec: Received) -> Reply:
    marker = marker_of(rec)
    if marker is None:
        return default_reply(rec.method, rec.path, rec.json)
    if rec.path == "/v1/chat/completions":
        reply = openai_completion(f"re:{marker}", model="up")
    else:
        reply = anthropic_message(f"re:{marker}", usage=(10, 2), model="up")
    return HangReply(SLOW_SECONDS, then=reply) if marker.startswith("slow") else reply


def markers(upstream: ScriptedUpstream) -> Counter[str]:
    """How many times each marker reached the upstream."""
    return Counter(m for m in map(marker_of, upstream.received) if m is not None)


def new_upstream() -> ScriptedUpstream:
    return ScriptedUpstream(respond)
