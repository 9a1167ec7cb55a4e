"""One request of a batch, read as its online endpoint reads it: judged within the bounds on
one request, made the pipeline's `Inbound`, and its reply encoded. Each chat surface with a
batch API (api/anthropic.py, api/openai.py) describes its endpoint's readers once here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import msgspec

from switchboard import ir
from switchboard.api.bounds import Bounds
from switchboard.errors import InvalidRequest
from switchboard.pipeline import Completed, Inbound, Inlet
from switchboard.tenancy.auth import Principal


class Head(Protocol):
    """What a dialect's request head (its `wire.RequestHead`) tells before the full decode."""

    @property
    def model(self) -> str: ...
    @property
    def stream(self) -> bool | None: ...
    @property
    def messages(self) -> msgspec.Raw: ...
    @property
    def tools(self) -> msgspec.Raw: ...
    @property
    def output_limit(self) -> int | None: ...


H = TypeVar("H", bound=Head)


def check_request(
    messages: msgspec.Raw,
    tools: msgspec.Raw,
    stream: bool | None,
    judge: Callable[[], object],
    bounds: Bounds,
) -> None:
    """One request of a batch, judged as its endpoint would judge it (`judge`: its full
    decode), within the bounds on one request. A batch is refused at once, not request by
    request."""
    bounds.check(messages, tools)
    if stream:
        raise InvalidRequest("stream: a batch's requests do not stream", param="stream")
    judge()


@dataclass(frozen=True, slots=True)
class BatchRequests(Generic[H]):
    """An endpoint's own readers, for `BatchApi.check`, `.inbound` and `.encode`."""

    inlet: Inlet
    decode_head: Callable[[bytes], H]
    decode_request: Callable[[bytes], ir.Request]
    head_thinking: Callable[[H], bool]
    tool_keys: Callable[[msgspec.Raw], frozenset[str]]
    # A translated reply's body, for the request's model name.
    encode_response: Callable[[ir.Response, str], bytes]
    default_max_tokens: int | None = None

    def check(self, body: bytes, bounds: Bounds) -> None:
        head = self.decode_head(body)
        check_request(
            head.messages, head.tools, head.stream, lambda: self.decode_request(body), bounds
        )

    def inbound(self, body: bytes, principal: Principal, discount: float) -> Inbound:
        head = self.decode_head(body)
        decode_request, tool_keys = self.decode_request, self.tool_keys
        return Inbound(
            inlet=self.inlet,
            body=body,
            model=head.model,
            stream=False,
            headers={},
            decode=lambda: decode_request(body),
            principal=principal,
            max_tokens=head.output_limit,
            default_max_tokens=self.default_max_tokens,
            discount=discount,
            # What routes test, read as the online request reads it.
            thinking=self.head_thinking(head),
            tools=lambda: tool_keys(head.tools),
        )

    def encode(self, done: Completed, inbound: Inbound) -> bytes:
        if done.raw is not None:
            return done.raw  # a pass-through's, as the upstream sent it
        assert done.response is not None
        return self.encode_response(done.response, inbound.model)
