"""The Gemini dialect's pure parts: schema cleaning, sealed thought signatures, error bodies,
thinking controls, and the stream decoder's grammar."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchboard import ir
from switchboard.dialects.gemini.errors import retry_delay, upstream_error_message
from switchboard.dialects.gemini.response import FINISH, decode_response
from switchboard.dialects.gemini.schema import clean_schema
from switchboard.dialects.gemini.stream import StreamDecoder
from switchboard.dialects.gemini.upstream_request import encode_request, profile_for
from switchboard.signing import ThinkingSigner

SIGNER = ThinkingSigner.from_master_key("k")


def profile(model: str = "gemini-2.5-flash") -> Any:
    return profile_for(
        "m",
        model,
        max_output_tokens=None,
        vision=True,
        pdf=True,
        thinking=True,
        unseal=SIGNER.unseal,
    )


def test_schema_refs_are_inlined_and_unsupported_keywords_named() -> None:
    schema = {
        "$schema": "x",
        "type": "object",
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "properties": {
            "at": {"$ref": "#/$defs/Point"},
            "mode": {"const": "fast"},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "level": {"type": "integer", "enum": [1, 2]},
            "tags": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        },
        "additionalProperties": False,
    }
    cleaned, dropped = clean_schema(schema)
    assert cleaned == {
        "type": "object",
        "properties": {
            "at": {"type": "object", "properties": {"x": {"type": "number"}}},
            "mode": {"type": "string", "enum": ["fast"]},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "level": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "format": "uuid"}},
        },
    }
    assert dropped == {
        "$schema",
        "additionalProperties",
        "oneOf (sent as anyOf)",
        "enum of non-strings",
    }
    assert "$defs" in schema  # the input is not changed


def test_a_recursive_ref_is_cut_not_followed_forever() -> None:
    schema = {
        "type": "object",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "properties": {"head": {"$ref": "#/$defs/Node"}},
    }
    _, dropped = clean_schema(schema)
    assert "schema nested too deep (cut)" in dropped


def test_sealed_signatures_bind_text_and_payload() -> None:
    sealed = SIGNER.seal("thought", "PAYLOAD")
    assert SIGNER.unseal("thought", sealed) == "PAYLOAD"
    assert SIGNER.unseal("other thought", sealed) is None
    assert SIGNER.unseal("thought", sealed.replace("PAYLOAD", "PAYLOAX")) is None
    assert SIGNER.unseal("thought", SIGNER.sign("thought")) is None  # a plain one is not sealed
    assert ThinkingSigner.from_master_key("other").unseal("thought", sealed) is None


def test_error_body_and_retry_delay() -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"},
                ],
            }
        }
    )
    assert upstream_error_message(body) == "RESOURCE_EXHAUSTED: Quota exceeded"
    assert retry_delay(body) == 1.5
    assert retry_delay(b"not json") is None
    assert upstream_error_message(b"<html>bad gateway</html>") == "<html>bad gateway</html>"


@pytest.mark.parametrize(
    ("model", "thinking", "expected"),
    [
        ("gemini-2.5-flash", ir.ThinkingConfig("disabled"), {"thinkingBudget": 0}),
        ("gemini-2.5-pro", ir.ThinkingConfig("disabled"), None),
        ("gemini-3-flash-preview", ir.ThinkingConfig("disabled"), {"thinkingLevel": "minimal"}),
        (
            "gemini-2.5-pro",
            ir.ThinkingConfig("adaptive"),
            {"includeThoughts": True, "thinkingBudget": -1},
        ),
        (
            "gemini-3-pro-preview",
            ir.ThinkingConfig("enabled", 1024),
            {"includeThoughts": True, "thinkingLevel": "low"},
        ),
    ],
)
def test_thinking_controls(model: str, thinking: ir.ThinkingConfig, expected: Any) -> None:
    req = ir.Request(
        model="m",
        messages=(ir.Message("user", (ir.Text("hi"),)),),
        max_tokens=10,
        thinking=thinking,
    )
    encoded = encode_request(req, profile(model))
    assert encoded.body["generationConfig"].get("thinkingConfig") == expected
    if expected is None:
        assert any("cannot turn thinking off" in d for d in encoded.dropped)


def test_every_documented_finish_reason_is_mapped() -> None:
    documented = {
        "STOP",
        "MAX_TOKENS",
        "SAFETY",
        "RECITATION",
        "LANGUAGE",
        "OTHER",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "MALFORMED_FUNCTION_CALL",
        "IMAGE_SAFETY",
        "UNEXPECTED_TOOL_CALL",
        "FINISH_REASON_UNSPECIFIED",
    }
    assert documented <= set(FINISH)


def test_function_calls_say_tool_use_though_gemini_says_stop() -> None:
    body = {
        "candidates": [
            {
                "content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]},
                "finishReason": "STOP",
            }
        ]
    }
    resp, notes = decode_response(orjson.dumps(body), {}, SIGNER.seal)
    assert resp.stop_reason == "tool_use"
    (call,) = resp.content
    assert isinstance(call, ir.ToolUse)
    assert call.input == {"a": 1}
    assert call.id.startswith("toolu_")
    assert notes == []


def test_stream_decoder_grammar_for_a_signed_call() -> None:
    decoder = StreamDecoder(provider="g", input_estimate=5, tool_names={}, seal=SIGNER.seal)
    chunk = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Checking."},
                        {
                            "functionCall": {"id": "c1", "name": "f", "args": {}},
                            "thoughtSignature": "SIG",
                        },
                    ]
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4},
    }
    events = decoder.feed(orjson.dumps(chunk)) + decoder.finish()
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "MessageStart",
        "BlockStart",
        "TextDelta",
        "BlockStop",
        "BlockStart",
        "SignatureDelta",
        "BlockStop",
        "BlockStart",
        "InputJsonDelta",
        "BlockStop",
        "MessageDelta",
        "MessageStop",
    ]
    signature = next(e for e in events if isinstance(e, ir.SignatureDelta)).signature
    assert SIGNER.unseal("", signature) == "SIG"
    delta = events[-2]
    assert isinstance(delta, ir.MessageDelta)
    assert delta.stop_reason == "tool_use"
    assert delta.usage == ir.Usage(input_tokens=5, output_tokens=4)
