"""Admission's pure decisions, as tables: the output limit a request is reserved for, which
models a key's allow-list names, and the request heads' strict output limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.catalog import Catalog
from switchboard.config import parse_config
from switchboard.dialects.anthropic.request import decode_head as anthropic_head
from switchboard.dialects.openai_chat.request import decode_head as openai_head
from switchboard.errors import InvalidRequest
from switchboard.tenancy.admission import DEFAULT_OUTPUT_LIMIT, may_use, output_limit
from switchboard.tenancy.keys import ApiKey, Limits


@pytest.mark.parametrize(
    ("requested", "model_max", "reserved"),
    [
        (1000, 64_000, 1000),
        (100_000, 64_000, 64_000),
        (None, 64_000, 64_000),
        (5000, None, 5000),
        (None, None, DEFAULT_OUTPUT_LIMIT),
        (0, 64_000, 0),  # Anthropic's "generate nothing"
    ],
)
def test_output_limit(requested: int | None, model_max: int | None, reserved: int) -> None:
    assert output_limit(requested, model_max) == reserved


CATALOG = Catalog(
    parse_config(
        {
            "providers": [{"name": "p", "kind": "scripted"}],
            "models": [
                {
                    "id": "claude-3-5-haiku",
                    "aliases": ["haiku"],
                    "channels": [{"provider": "p", "model": "a"}],
                },
                {
                    "id": "big/model",
                    "aliases": ["claude-*", "large"],
                    "channels": [{"provider": "p", "model": "b"}],
                },
            ],
        },
        "test",
        env={},
    )
)


def key(*patterns: str) -> ApiKey:
    return ApiKey("k1", "k", "sk-sb-k1", Limits(models=patterns), datetime.now(UTC))


@pytest.mark.parametrize(
    ("patterns", "requested", "allowed"),
    [
        (("claude-3-5-haiku*",), "claude-3-5-haiku", True),
        (("claude-3-5-haiku*",), "haiku", True),  # an exact alias of the named model
        # The requested name matches, but it resolves to big/model through `claude-*`.
        (("claude-3-5-haiku*",), "claude-3-5-haiku-20241022", False),
        (("claude-3-5-haiku*",), "big/model", False),
        (("haiku",), "claude-3-5-haiku", True),  # a pattern naming an exact alias
        (("claude-*",), "claude-opus-5", True),  # the glob alias, written the same way
        (("claude-*",), "claude-3-5-haiku", True),  # ...and the model whose id it matches
        (("large",), "claude-opus-5", True),
        (("big/*",), "claude-anything", True),
        (("claude-?-*",), "claude-opus-5", False),  # a different glob names no alias
    ],
)
def test_the_allow_list_names_the_resolved_model(
    patterns: tuple[str, ...], requested: str, allowed: bool
) -> None:
    entry = CATALOG.resolve(requested)
    assert entry is not None
    assert may_use(key(*patterns), entry) is allowed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"model":"m","max_tokens":1000.0}', "max_tokens: Expected `int`, got `float`"),
        (b'{"model":"m","max_tokens":"1000"}', "max_tokens: Expected `int`, got `str`"),
        (b'{"model":"m","max_tokens":-1}', "max_tokens: Expected `int` >= 0"),
        (b'{"model":"m","max_tokens":1e30}', "max_tokens: Expected `int`, got `float`"),
        (
            b'{"model":"m","max_tokens":100000000000000000000000}',
            "max_tokens: Expected `int` <= 2147483647",
        ),
    ],
)
def test_an_output_limit_the_gateway_cannot_reserve_is_refused(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        anthropic_head(body)
    assert (err.value.message, err.value.param) == (message, "max_tokens")
    with pytest.raises(InvalidRequest) as err:
        openai_head(body.replace(b"max_tokens", b"max_completion_tokens"))
    assert err.value.param == "max_completion_tokens"


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        (b'{"model":"m"}', None),
        (b'{"model":"m","max_tokens":null}', None),
        (b'{"model":"m","max_tokens":0}', None),  # some servers read 0 as "no limit"
        (b'{"model":"m","max_tokens":7}', 7),
        (b'{"model":"m","max_tokens":7,"max_completion_tokens":9}', 9),
    ],
)
def test_the_openai_output_limit(body: bytes, limit: int | None) -> None:
    assert openai_head(body).output_limit == limit
