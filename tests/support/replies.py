"""Reply scripts for :class:`ScriptedUpstream` and the record of what it received."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class JsonReply:
    """A plain HTTP response.

    ``body`` is JSON-encoded unless it is ``bytes`` or ``str``, which are sent verbatim so tests can
    script malformed bodies (to send a JSON string literal, pass it already encoded: ``'"x"'``).
    """

    body: object
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True)
class SSEReply:
    """A streamed response: each frame is complete wire text, written as given.

    ``delay`` is slept between frames (not before the first). ``hang_after=N`` writes N frames and
    then keeps the connection open until the client closes it, which the test can observe through
    ``Received.client_closed``.
    """

    frames: list[str | bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "text/event-stream"
    hang_after: int | None = None


@dataclass(frozen=True)
class DropReply:
    """Close the connection without sending any response bytes."""


@dataclass(frozen=True)
class HangReply:
    """Sleep ``seconds``, then answer with ``then`` or, when None, the route's default reply.

    The route default is JSON for a non-streaming request (and an SSE stream when the request body
    has ``"stream": true``), so a HangReply exercises a gateway's time-to-first-byte timeout.
    """

    seconds: float
    then: JsonReply | SSEReply | DropReply | None = None


Reply = JsonReply | SSEReply | DropReply | HangReply


@dataclass
class Received:
    """One request as the mock upstream saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: object | None
    # Set when the server notices the client went away before the reply was finished (a write
    # failed, or the transport closed while streaming, hanging or sleeping between frames).
    client_closed: threading.Event = field(default_factory=threading.Event)
