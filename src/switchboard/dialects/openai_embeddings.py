"""OpenAI's embeddings request (`POST /v1/embeddings`), judged at the edge: what the gateway
needs to route and bound it. The body itself goes to OpenAI-dialect upstreams as it is, but for
`model` (openai_chat/passthrough.py's rewrites; the reply's usage is `prompt_tokens`).

`input` is a string, a list of strings, a list of tokens, or a list of token lists, at most
MAX_INPUTS entries (OpenAI's own limit); `encoding_format` float or base64; `dimensions` a
positive count. Other fields (`user`) go on as they are."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from switchboard.dialects.validation import decode
from switchboard.errors import InvalidRequest

MAX_INPUTS = 2048
Token = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class EmbeddingsHead(msgspec.Struct):
    model: str
    # msgspec takes one array type in a union: one list, its items checked alike below.
    input: str | list[str | Token | list[Token]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, msgspec.Meta(ge=1, le=65536)] | None = None
    user: str | None = None


_decode = msgspec.json.Decoder(EmbeddingsHead).decode


def decode_head(body: bytes) -> EmbeddingsHead:
    head = decode(_decode, body)
    given = head.input
    if isinstance(given, list):
        if not given:
            raise InvalidRequest("input: List should have at least 1 item", param="input")
        if len(given) > MAX_INPUTS:
            raise InvalidRequest(
                f"input: List should have at most {MAX_INPUTS} items", param="input"
            )
        kind = type(given[0])
        for i, item in enumerate(given):
            if type(item) is not kind:
                raise InvalidRequest(
                    f"input.{i}: the items must be all strings, all tokens or all token lists",
                    param=f"input.{i}",
                )
            if isinstance(item, (str, list)) and not item:
                raise InvalidRequest(f"input.{i}: must not be empty", param=f"input.{i}")
    elif not given:
        raise InvalidRequest("input: must not be empty", param="input")
    return head
