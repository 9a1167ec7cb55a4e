"""The extension point: an upstream completes a request or streams it. Same-format relaying is a
separate, optional ability (`PassThrough`), never a stub that raises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from switchboard import ir
from switchboard.catalog import Channel
from switchboard.config import ModelConfig


class Call(msgspec.Struct):
    request: ir.Request
    channel: Channel
    profile: ModelConfig
    input_estimate: int


class Completion(msgspec.Struct):
    response: ir.Response
    dropped: list[str] = msgspec.field(default_factory=list)


class EventStream(Protocol):
    """Batches of IR events, one batch per upstream chunk. `usage` is what the upstream reported
    so far (what a cut stream is charged for)."""

    @property
    def dropped(self) -> Sequence[str]:
        """What encoding the request for this upstream dropped."""
        ...

    @property
    def usage(self) -> ir.Usage: ...

    @property
    def notes(self) -> list[str]:
        """What translating the stream dropped or changed so far (it grows as it is read)."""
        ...

    def __aiter__(self) -> AsyncIterator[list[ir.Event]]: ...

    async def aclose(self) -> None: ...


class Upstream(Protocol):
    async def complete(self, call: Call) -> Completion: ...

    async def stream(self, call: Call) -> EventStream:
        """Returns once the upstream has accepted the request (its status is known)."""
        ...


@dataclass(slots=True)  # not frozen: one per request, and frozen inits are slow
class Forward:
    """A client request to relay to an upstream of its own dialect, unchanged but for `model`."""

    body: bytes
    client_model: str
    channel: Channel
    headers: Mapping[str, str]  # anthropic-version, anthropic-beta
    usage_chunk: bool = False  # OpenAI: the client asked for the stream's usage chunk
    dropped: tuple[str, ...] = ()  # what the gateway left out (beta flags the upstream lacks)


@dataclass(slots=True)
class Relayed:
    body: bytes
    usage: ir.Usage


class RelayStream(Protocol):
    @property
    def usage(self) -> ir.Usage: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class PassThrough(Protocol):
    async def forward(self, fwd: Forward) -> Relayed: ...

    async def forward_stream(self, fwd: Forward) -> RelayStream: ...


class Embeds(Protocol):
    """Embeddings (`POST /v1/embeddings`), relayed to an upstream of the OpenAI dialect."""

    async def embed(self, fwd: Forward) -> Relayed: ...


class CountsRelayed(Protocol):
    """Exact input token counts of a body in the upstream's own format (Anthropic's
    count_tokens endpoint)."""

    async def count_tokens(self, fwd: Forward) -> int: ...


class CountsTranslated(Protocol):
    """Exact input token counts of a translated request where the provider can give one
    (a configured tokenize endpoint); None where it cannot."""

    async def count_tokens(self, call: Call) -> int | None: ...
