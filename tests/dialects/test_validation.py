"""The edge's bounds on client JSON, on the decoders themselves: nesting, 64-bit integers,
counts, keys that are not UTF-8; each refusal names the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard.dialects.anthropic import passthrough as anthropic_passthrough
from switchboard.dialects.anthropic.request import decode_count_tokens, decode_head
from switchboard.dialects.anthropic.request import decode_request as decode_anthropic
from switchboard.dialects.openai_chat import passthrough as openai_passthrough
from switchboard.dialects.openai_chat.request import decode_request as decode_openai
from switchboard.dialects.validation import MAX_COUNT, MAX_DEPTH
from switchboard.errors import InvalidRequest


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def anthropic(tool_input: str = "{}", schema: str = '{"type": "object"}', **extra: Any) -> bytes:
    body = (
        '{"model": "m", "max_tokens": 8, "messages": ['
        '{"role": "user", "content": "hi"},'
        '{"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f",'
        f' "input": {tool_input}}}]}}],'
        f' "tools": [{{"name": "f", "input_schema": {schema}}}]'
    )
    for key, value in extra.items():
        body += f', "{key}": {value}'
    return (body + "}").encode()


def refusal(decode: Any, body: bytes) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        decode(body)
    return caught.value


def test_values_nest_up_to_the_bound() -> None:
    decode_anthropic(anthropic(tool_input='{"a": ' + nested(MAX_DEPTH - 1) + "}"))
    error = refusal(decode_anthropic, anthropic(tool_input='{"a": ' + nested(MAX_DEPTH) + "}"))
    assert error.message.startswith("messages.1.content.0.input.a.0.0"), error.message
    assert f"deeper than {MAX_DEPTH} levels" in error.message


@pytest.mark.parametrize("depth", [300, 999, 5_000, 100_000])
def test_nesting_past_the_bound_is_a_400_naming_the_field(depth: int) -> None:
    """Past MAX_DEPTH in a schema; past Python's stack anywhere (the head sees that too)."""
    body = anthropic(schema='{"type": "object", "properties": ' + nested(depth) + "}")
    decoders = [decode_anthropic, decode_count_tokens] + ([decode_head] if depth > 2000 else [])
    for decode in decoders:
        error = refusal(decode, body)
        assert error.param is not None
        assert error.param.startswith("tools.0.input_schema.properties"), error.message


def test_an_integer_past_64_bits_in_a_tool_input_is_named() -> None:
    error = refusal(decode_anthropic, anthropic(tool_input='{"n": [1, 18446744073709551616]}'))
    assert error.message == "messages.1.content.0.input.n.1: integers must fit in 64 bits"
    decode_anthropic(anthropic(tool_input='{"n": [1, 18446744073709551615]}'))


@pytest.mark.parametrize("field", ["max_tokens", "top_k"])
def test_counts_are_bounded(field: str) -> None:
    error = refusal(decode_anthropic, anthropic(**{field: str(MAX_COUNT + 1)}))
    assert error.param == field


def test_the_head_bounds_what_limits_reserve() -> None:
    """A pass-through never decodes the whole body: the head refuses a huge max_tokens."""
    error = refusal(decode_head, anthropic(max_tokens=str(10**30)))
    assert error.param == "max_tokens"


def openai(arguments: str, **extra: Any) -> bytes:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ],
        **extra,
    }
    return json.dumps(body).encode()


def test_tool_call_arguments_are_held_to_the_same_bounds() -> None:
    error = refusal(decode_openai, openai('{"a": ' + nested(400) + "}"))
    assert error.message.startswith("messages.1.tool_calls.0.function.arguments.a.0"), error
    # orjson reads an integer past 64 bits in a string as a float: carried, not a failure.
    decode_openai(openai('{"a": 99999999999999999999999}'))


def test_a_key_that_is_not_utf8_is_a_400() -> None:
    """The scan for fields the gateway does not carry decoded keys outside the error mapping."""
    body = openai("{}")[:-1] + b', "\xff\xfe": 1}'
    error = refusal(decode_openai, body)
    assert "not valid JSON" in error.message


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda body: anthropic_passthrough.rewrite_model(body, "x"),
        lambda body: openai_passthrough.rewrite_request(body, "x"),
    ],
    ids=["anthropic", "openai"],
)
def test_the_pass_through_refuses_what_it_cannot_encode_again(rewrite: Any) -> None:
    body = b'{"model": "m", "extra": {"deep": ' + nested(400).encode() + b"}}"
    error = refusal(rewrite, body)
    assert error.param is not None
    assert error.param.startswith("extra.deep.0"), error.message
    error = refusal(rewrite, b'{"model": "m", "extra": "\xff"}')
    assert "not valid JSON" in error.message
