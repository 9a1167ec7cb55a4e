"""Gemini upstreams (`kind: gemini`) end to end: the real Anthropic and OpenAI SDKs against the
real gateway, translating to a scripted Gemini API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.google.conftest import CLIENT_KEY, GEMINI_KEY
from tests.google.helpers import HELLO, PDF, PNG, body, post, stream
from tests.support.gateway import GatewayProcess
from tests.support.gemini_wire import (
    SIGNATURE,
    call_part,
    gemini_response,
    gemini_stream,
    text_part,
    thought_part,
    usage_metadata,
)
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.replies import JsonReply
from tests.support.stream_validator import accumulate_message, validate_anthropic_stream

FLASH = "gemini-2.5-flash"


@pytest.fixture
def client(gateway: GatewayProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
    ) as c:
        yield c


@pytest.fixture
def oai(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0) as c:
        yield c


def test_text_reply_with_cached_and_thinking_usage(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    usage = usage_metadata(21, 4, cached=5, thoughts=7)
    upstream.enqueue(gemini_response("Hi there", usage=usage))
    msg = client.messages.create(
        model=FLASH,
        max_tokens=256,
        system="Be brief.",
        stop_sequences=["STOP"],
        messages=HELLO,
    )
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Hi there"
    assert msg.stop_reason == "end_turn"
    # promptTokenCount includes the cached tokens; thinking tokens are output.
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (16, 11)
    assert msg.usage.cache_read_input_tokens == 5

    (seen,) = upstream.received
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == GEMINI_KEY
    assert CLIENT_KEY not in str(seen.headers)
    assert seen.json == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
        "generationConfig": {
            "maxOutputTokens": 256,
            "stopSequences": ["STOP"],
        },
    }


def test_stream_is_valid_anthropic_grammar(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(
        gemini_stream(
            [[text_part("Hel")], [text_part("lo")], [text_part(" world")]],
            usage=usage_metadata(30, 3),
        )
    )
    resp, raw = stream(gateway, body(FLASH))
    assert resp.status_code == 200
    message = accumulate_message(raw)
    assert message["content"] == [{"type": "text", "text": "Hello world"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["output_tokens"] == 3
    (seen,) = upstream.received
    assert seen.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert seen.query == "alt=sse"


def test_openai_sdk_text_stream_and_usage(oai: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(gemini_response("plain", usage=usage_metadata(12, 2, cached=2)))
    done = oai.chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "Hi"}], max_tokens=50
    )
    assert done.choices[0].message.content == "plain"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (12, 2)

    upstream.enqueue(gemini_stream([[text_part("a")], [text_part("b")]]))
    chunks = list(
        oai.chat.completions.create(
            model=FLASH,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "ab"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


WEATHER: dict[str, Any] = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
}


def test_tool_round_trip_replays_the_thought_signature(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(
        gemini_response(
            [call_part("get_weather", {"city": "Paris"}, id_="fc-1", signature=SIGNATURE)]
        )
    )
    raw = client.messages.with_raw_response.create(
        model="gemini-3-pro",
        max_tokens=256,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=HELLO,
    )
    first = raw.parse()
    assert first.stop_reason == "tool_use"
    kinds = [b.type for b in first.content]
    assert kinds == ["thinking", "tool_use"]
    thinking, call = first.content
    assert thinking.type == "thinking"
    assert thinking.signature.startswith("sbsig2.")
    assert call.type == "tool_use"
    assert call.name == "get_weather"
    assert call.input == {"city": "Paris"}
    assert call.id == "fc-1"
    # The schema went out cleaned, and the loss report names what was removed.
    (seen,) = upstream.received
    assert seen.json is not None
    assert isinstance(seen.json, dict)
    params = seen.json["tools"][0]["functionDeclarations"][0]["parameters"]
    assert params == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "nullable": True, "enum": ["c", "f"]},
        },
        "required": ["city"],
    }
    dropped = raw.headers["switchboard-dropped"]
    assert "additionalProperties" in dropped
    assert "$schema" in dropped

    upstream.reset()
    upstream.enqueue(gemini_response("18 degrees"))
    history: list[Any] = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "fc-1", "content": "18C"}],
        },
    ]
    second = client.messages.create(
        model="gemini-3-pro",
        max_tokens=256,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=history,
    )
    assert second.content[0].type == "text"
    assert second.content[0].text == "18 degrees"
    (seen,) = upstream.received
    assert isinstance(seen.json, dict)
    assert seen.json["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "id": "fc-1",
                        "name": "get_weather",
                        "args": {"city": "Paris"},
                    },
                    "thoughtSignature": SIGNATURE,
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "fc-1",
                        "name": "get_weather",
                        "response": {"content": "18C"},
                    }
                }
            ],
        },
    ]


def test_a_forged_signature_is_not_replayed(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_response("ok"))
    forged = "sbsig2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c3RvbGVu"
    history = [
        {"role": "user", "content": "Hello"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "", "signature": forged},
                {"type": "tool_use", "id": "fc-9", "name": "get_weather", "input": {"city": "X"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "fc-9", "content": "1"}],
        },
    ]
    resp = post(gateway, body("gemini-3-pro", tools=[WEATHER], messages=history))
    assert resp.status_code == 200, resp.text
    assert "signature not issued by this gateway" in resp.headers["switchboard-dropped"]
    (seen,) = upstream.received
    assert isinstance(seen.json, dict)
    part = seen.json["contents"][1]["parts"][0]
    # Gemini 3 needs some signature on a replayed call: Google's documented stand-in, never
    # the client's.
    assert part["thoughtSignature"] == "skip_thought_signature_validator"
    assert "c3RvbGVu" not in seen.body.decode()


def test_streamed_thinking_is_signed_and_replayed(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(
        gemini_stream(
            [
                [thought_part("Let me ")],
                [thought_part("think.")],
                [text_part("Answer", signature=SIGNATURE)],
            ],
            usage=usage_metadata(10, 2, thoughts=5),
        )
    )
    data = body(FLASH, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})
    resp, raw = stream(gateway, data)
    assert resp.status_code == 200
    validate_anthropic_stream(raw)
    message = accumulate_message(raw)
    blocks = message["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text", "thinking"]
    assert blocks[0]["thinking"] == "Let me think."
    assert blocks[1]["text"] == "Answer"
    assert all(b["signature"].startswith("sbsig2.") for b in blocks if b["type"] == "thinking")
    assert message["usage"]["output_tokens"] == 7
    (seen,) = upstream.received
    assert isinstance(seen.json, dict)
    assert seen.json["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 2048,
    }

    upstream.reset()
    upstream.enqueue(gemini_response("again"))
    history = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": "More"},
    ]
    assert post(gateway, body(FLASH, messages=history)).status_code == 200
    (seen,) = upstream.received
    assert isinstance(seen.json, dict)
    assert seen.json["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Let me think.", "thought": True},
            {"text": "Answer"},
            {"text": "", "thoughtSignature": SIGNATURE},
        ],
    }


def test_a_signature_moved_to_other_text_is_refused(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_response([thought_part("real", signature=SIGNATURE), text_part("x")]))
    first = post(gateway, body(FLASH))
    signature = first.json()["content"][0]["signature"]
    upstream.reset()
    upstream.enqueue(gemini_response("ok"))
    history = [
        {"role": "user", "content": "Hello"},
        {
            "role": "assistant",
            "content": [{"type": "thinking", "thinking": "forged", "signature": signature}],
        },
        {"role": "user", "content": "More"},
    ]
    resp = post(gateway, body(FLASH, messages=history))
    assert resp.status_code == 200
    (seen,) = upstream.received
    assert SIGNATURE not in seen.body.decode()
    assert "forged" not in seen.body.decode()


def test_reasoning_effort_sets_the_thinking_budget_or_level(
    oai: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(gemini_response("ok"), gemini_response("ok"))
    for model in (FLASH, "gemini-3-pro"):
        oai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], reasoning_effort="high"
        )
    flash, third = upstream.received
    assert isinstance(flash.json, dict)
    assert isinstance(third.json, dict)
    assert flash.json["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 16384,
    }
    assert third.json["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingLevel": "high",
    }


def test_images_and_pdfs_go_inline(client: anthropic.Anthropic, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(gemini_response("seen"))
    client.messages.create(
        model=FLASH,
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ],
    )
    (seen,) = upstream.received
    assert isinstance(seen.json, dict)
    assert seen.json["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "application/pdf", "data": PDF}},
        {"text": "What is this?"},
    ]


FINISH_TABLE = [
    ("STOP", "end_turn", "stop", None),
    ("MAX_TOKENS", "max_tokens", "length", None),
    ("SAFETY", "refusal", "content_filter", "finishReason SAFETY"),
    ("RECITATION", "refusal", "content_filter", "finishReason RECITATION"),
    ("BLOCKLIST", "refusal", "content_filter", "finishReason BLOCKLIST"),
    ("PROHIBITED_CONTENT", "refusal", "content_filter", "finishReason PROHIBITED_CONTENT"),
    ("SPII", "refusal", "content_filter", "finishReason SPII"),
    ("LANGUAGE", "refusal", "content_filter", "finishReason LANGUAGE"),
    ("MALFORMED_FUNCTION_CALL", "end_turn", "stop", "finishReason MALFORMED_FUNCTION_CALL"),
    ("OTHER", "end_turn", "stop", "finishReason OTHER"),
    ("SOMETHING_NEW", "end_turn", "stop", "unknown finishReason 'SOMETHING_NEW'"),
]


@pytest.mark.parametrize(("finish", "stop_reason", "openai_finish", "note"), FINISH_TABLE)
def test_finish_reasons(
    gateway: GatewayProcess,
    oai: openai.OpenAI,
    upstream: ScriptedUpstream,
    finish: str,
    stop_reason: str,
    openai_finish: str,
    note: str | None,
) -> None:
    upstream.enqueue(gemini_response("x", finish=finish))
    resp = post(gateway, body(FLASH))
    assert resp.status_code == 200
    assert resp.json()["stop_reason"] == stop_reason
    if note is None:
        assert "switchboard-dropped" not in resp.headers
    else:
        assert note in resp.headers["switchboard-dropped"]
    upstream.enqueue(gemini_stream([[text_part("x")]], finish=finish))
    chunks = list(
        oai.chat.completions.create(
            model=FLASH, messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == openai_finish


def test_a_blocked_prompt_is_a_refusal(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(
        JsonReply(
            {
                "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
            }
        )
    )
    resp = post(gateway, body(FLASH))
    assert resp.status_code == 200
    assert resp.json()["stop_reason"] == "refusal"
    assert resp.json()["content"] == []
    assert "prompt blocked: PROHIBITED_CONTENT" in resp.headers["switchboard-dropped"]


def test_count_tokens_through_gemini_count_tokens(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(JsonReply({"totalTokens": 17}))
    raw = client.messages.with_raw_response.count_tokens(
        model=FLASH, system="Be brief.", messages=HELLO
    )
    assert raw.parse().input_tokens == 17
    assert raw.headers["switchboard-token-count"] == "exact"
    sent = upstream.received[-1]
    assert sent.path == f"/v1beta/models/{FLASH}:countTokens"
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert isinstance(sent.json, dict)
    request = sent.json["generateContentRequest"]
    assert request["model"] == f"models/{FLASH}"
    assert request["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert request["contents"][0]["role"] == "user"
