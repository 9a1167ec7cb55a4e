"""Thinking: the per-model control upstream, signed reasoning back, and the verified echo."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from switchboard import ir
from switchboard.dialects.anthropic.request import decode_request
from switchboard.dialects.openai_chat.response import decode_response
from switchboard.dialects.openai_chat.stream import StreamDecoder
from switchboard.dialects.openai_chat.upstream_request import UpstreamProfile, encode_request
from switchboard.signing import ThinkingSigner

SIGNER = ThinkingSigner.from_master_key("k")


def profile(control: str = "none", echo: bool = False) -> UpstreamProfile:
    return UpstreamProfile(
        model_id="m",
        upstream_model="u",
        thinking_control=control,
        echo_field="reasoning_content" if echo else None,
        verify=SIGNER.verify,
    )


def encode(p: UpstreamProfile, **fields: Any) -> tuple[dict[str, Any], list[str]]:
    base: dict[str, Any] = {
        "model": "m",
        "max_tokens": 32000,
        "messages": [{"role": "user", "content": "q"}],
    }
    base.update(fields)
    enc = encode_request(decode_request(orjson.dumps(base)), p)
    return enc.body, enc.dropped


@pytest.mark.parametrize(
    ("control", "thinking", "expected"),
    [
        (
            "reasoning_effort",
            {"type": "enabled", "budget_tokens": 2048},
            {"reasoning_effort": "low"},
        ),
        (
            "reasoning_effort",
            {"type": "enabled", "budget_tokens": 20000},
            {"reasoning_effort": "high"},
        ),
        ("reasoning_effort", {"type": "disabled"}, {}),
        ("thinking", {"type": "adaptive"}, {"thinking": {"type": "enabled"}}),
        ("thinking", {"type": "disabled"}, {"thinking": {"type": "disabled"}}),
        (
            "enable_thinking",
            {"type": "enabled", "budget_tokens": 5000},
            {"enable_thinking": True, "thinking_budget": 5000},
        ),
        (
            "chat_template",
            {"type": "disabled"},
            {"chat_template_kwargs": {"enable_thinking": False}},
        ),
        (
            "openrouter",
            {"type": "enabled", "budget_tokens": 3000},
            {"reasoning": {"max_tokens": 3000}},
        ),
    ],
)
def test_thinking_controls(
    control: str, thinking: dict[str, Any], expected: dict[str, Any]
) -> None:
    body, _ = encode(profile(control), thinking=thinking)
    keys = {
        "reasoning_effort",
        "thinking",
        "enable_thinking",
        "thinking_budget",
        "chat_template_kwargs",
        "reasoning",
    }
    assert {k: v for k, v in body.items() if k in keys} == expected


def test_thinking_for_a_model_without_control_is_reported() -> None:
    _, dropped = encode(profile("none"), thinking={"type": "enabled", "budget_tokens": 2048})
    assert any(d.startswith("thinking (enabled)") for d in dropped)


def history(signature: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "list files"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should call ls", "signature": signature},
                {"type": "tool_use", "id": "call_1", "name": "ls", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "a.txt"}],
        },
    ]


def test_verified_thinking_is_echoed_as_reasoning_content() -> None:
    good = SIGNER.sign("I should call ls")
    body, dropped = encode(profile("thinking", echo=True), messages=history(good))
    assert body["messages"][1]["reasoning_content"] == "I should call ls"
    assert not any("thinking" in d for d in dropped)


def test_forged_or_foreign_thinking_is_not_echoed() -> None:
    body, dropped = encode(profile("thinking", echo=True), messages=history("EqQBCgIYAh-anthropic"))
    # The tool-call turn still carries the field (DeepSeek rejects it missing), but empty.
    assert body["messages"][1]["reasoning_content"] == ""
    assert "thinking (signature not issued by this gateway)" in dropped


def test_models_without_echo_drop_and_report_thinking() -> None:
    body, dropped = encode(profile("thinking"), messages=history(SIGNER.sign("I should call ls")))
    assert "reasoning_content" not in body["messages"][1]
    assert "thinking" in dropped


def test_reasoning_comes_back_signed() -> None:
    raw = orjson.dumps(
        {
            "choices": [
                {"message": {"reasoning_content": "hmm", "content": "hi"}, "finish_reason": "stop"}
            ]
        }
    )
    resp, _ = decode_response(raw, {}, SIGNER.sign)
    thinking = resp.content[0]
    assert isinstance(thinking, ir.Thinking)
    assert SIGNER.verify("hmm", thinking.signature)

    decoder = StreamDecoder(provider="p", input_estimate=1, tool_names={}, sign=SIGNER.sign)
    events = decoder.feed(orjson.dumps({"choices": [{"delta": {"reasoning_content": "hm"}}]}))
    events += decoder.feed(orjson.dumps({"choices": [{"delta": {"reasoning_content": "m"}}]}))
    events += decoder.feed(
        orjson.dumps({"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}]})
    )
    names = [type(e).__name__ for e in events]
    at = names.index("SignatureDelta")
    assert names[at + 1] == "BlockStop"
    assert SIGNER.verify("hmm", getattr(events[at], "signature", ""))
