"""Request capture, for debugging a model that misbehaves: what the client sent, what went
upstream (each attempt), what came back and what the client received, kept for a few days.

Off by default. The operator picks what is captured (`capture:` in the config: some keys, some
models, a sampled share); only then does a metered request carry a `Capture`, filled as the
request goes: by the exchange (the client's side) and by the upstream HTTP client (the
upstream's side, every attempt). Whether it is kept is decided at the end, when the key and the
model are known, and what is kept is redacted first (capture/recorder.py)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

import msgspec


class CaptureConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`capture:` in the config. Nothing chosen (no key, no model, no sample): off."""

    keys: list[str] = []  # key names or ids whose requests are captured
    models: list[str] = []  # model names as clients send them, or globs (`claude-*`)
    sample_ratio: float = 0.0  # besides those, this share of all requests
    retention_days: float = 7.0  # older captures are deleted by the gateway
    max_bytes: int = 256 * 1024  # each part is cut here
    redact: list[str] = []  # regular expressions masked, besides the gateway's secrets

    @property
    def enabled(self) -> bool:
        return bool(self.keys or self.models or self.sample_ratio > 0)


@dataclass(slots=True)
class Part:
    """Bytes kept up to a limit; `total` says how many there were."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]


@dataclass(slots=True)
class UpstreamCall:
    """One upstream attempt: where it went, what was sent, and what came back."""

    url: str
    headers: dict[str, str]
    request: Part
    response: Part
    status: int = 0


@dataclass(slots=True)
class Capture:
    limit: int
    client_headers: dict[str, str] = field(default_factory=dict)
    client_request: Part = field(init=False)
    client_response: Part = field(init=False)
    upstream: list[UpstreamCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client_request = Part(self.limit)
        self.client_response = Part(self.limit)

    def call(self, url: str, headers: dict[str, str], body: bytes) -> UpstreamCall:
        call = UpstreamCall(url, headers, Part(self.limit), Part(self.limit))
        call.request.add(body)
        self.upstream.append(call)
        return call


# The capture of the request the current task serves. A context variable (task-local), not a
# parameter, because the upstream HTTP client is reached through every upstream kind's code,
# none of which should know about capture; set only when capture is on.
CURRENT: ContextVar[Capture | None] = ContextVar("switchboard_capture", default=None)
