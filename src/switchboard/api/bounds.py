"""What one request may be: its body's size and how long it may take to arrive, and how many
messages and tools it may carry. Checked before any decoding beyond the request's head."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from switchboard.api.exchange import Exchange
from switchboard.config import ServerConfig
from switchboard.errors import InvalidRequest

SESSION_HEADER = "x-claude-code-session-id"


@dataclass(frozen=True, slots=True)
class Bounds:
    max_body_bytes: int = 32 * 1024 * 1024
    body_seconds: float = 60.0
    max_messages: int = 10_000
    max_tools: int = 1_000

    @classmethod
    def of(cls, server: ServerConfig) -> Bounds:
        return cls(
            server.max_body_bytes,
            server.body_timeout_seconds,
            server.max_messages,
            server.max_tools,
        )

    async def body(self, ex: Exchange) -> bytes:
        return await ex.body(self.max_body_bytes, self.body_seconds)

    def check(
        self, messages: msgspec.Raw, tools: msgspec.Raw, messages_field: str = "messages"
    ) -> None:
        """`messages_field`: what the client's API calls its list of turns (`input`)."""
        for field, raw, limit in (
            (messages_field, messages, self.max_messages),
            ("tools", tools, self.max_tools),
        ):
            count = _count(raw)
            if count > limit:
                raise InvalidRequest(
                    f"{field}: at most {limit} are accepted, got {count}", param=field
                )


_decode_items = msgspec.json.Decoder(list[msgspec.Raw]).decode


def _count(raw: msgspec.Raw) -> int:
    """Items in a JSON array, without decoding them; anything else counts 0 here (the full
    decode names what is wrong with it)."""
    if not bytes(raw).startswith(b"["):
        return 0
    try:
        return len(_decode_items(raw))
    except msgspec.DecodeError:
        return 0


def affinity(ex: Exchange, *ids: str | None) -> str | None:
    """What keeps a conversation on one channel: Claude Code's session header, else the first
    id the body carries."""
    session = ex.headers.get(SESSION_HEADER)
    if session:
        return session
    return next((i for i in ids if i), None)
