"""What the Anthropic decoder makes of Claude Code's own parts for a translated request: the
attribution line (recognized by a bounded pattern, never user text), deferred tools and
`tool_reference` blocks (tool search without an upstream that has it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from switchboard import ir
from switchboard.dialects.anthropic.attribution import is_attribution
from switchboard.dialects.anthropic.request import decode_request

LINE = "x-anthropic-billing-header: cc_version=2.1.330.711; cc_entrypoint=sdk-cli;"


@pytest.mark.parametrize(
    "text",
    [
        LINE,
        "x-anthropic-billing-header: cc_version=2.1.330.b61; cc_entrypoint=cli; cch=0a1b2;",
        "x-anthropic-billing-header: cc_version=2.1.37.abc;",
    ],
)
def test_the_attribution_line_is_recognized(text: str) -> None:
    assert is_attribution(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x-anthropic-billing-header:",
        LINE + "\nYou are a helpful assistant.",
        "Please keep x-anthropic-billing-header: cc_version=1; in mind.",
        "x-anthropic-billing-header: cc_version=2.1.330.711; note=free text here;",
        "x-anthropic-billing-header: " + "k=v; " * 200,
        "X-Anthropic-Billing-Header: cc_version=2.1.330.711;",
    ],
)
def test_other_text_is_not(text: str) -> None:
    assert not is_attribution(text)


def _body(**extra: Any) -> bytes:
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 100,
        "system": [{"type": "text", "text": LINE}, {"type": "text", "text": "You are Claude."}],
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }
    return orjson.dumps(body)


def test_the_attribution_line_is_not_translated_and_is_reported() -> None:
    req = decode_request(_body())
    assert req.system == (ir.Text("You are Claude."),)
    assert any("attribution" in d for d in req.dropped)


def test_a_system_prompt_that_merely_mentions_it_is_kept() -> None:
    text = f"{LINE} and more"
    req = decode_request(_body(system=text))
    assert req.system == (ir.Text(text),)
    assert not any("attribution" in d for d in req.dropped)


def _tool(name: str, deferred: bool = False) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "input_schema": {"type": "object"}}
    if deferred:
        tool["defer_loading"] = True
    return tool


TOOLS = [_tool("ToolSearch"), _tool("Read"), _tool("WebFetch", True), _tool("Cron", True)]


def test_deferred_tools_are_held_back_until_loaded() -> None:
    req = decode_request(_body(tools=TOOLS))
    assert [t.name for t in req.tools] == ["ToolSearch", "Read"]
    assert any("deferred" in d for d in req.dropped)


def test_a_tool_reference_loads_its_tool_and_becomes_text() -> None:
    messages = [
        {"role": "user", "content": "fetch it"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {"query": "x"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "tool_reference", "tool_name": "WebFetch"}],
                }
            ],
        },
    ]
    req = decode_request(_body(tools=TOOLS, messages=messages))
    assert [t.name for t in req.tools] == ["ToolSearch", "Read", "WebFetch"]
    result = req.messages[-1].content[0]
    assert isinstance(result, ir.ToolResult)
    assert result.content == (ir.Text("Tool WebFetch loaded: it is now available to call."),)
    assert "tool_reference" not in req.dropped


def test_a_deferred_tool_already_called_or_chosen_is_sent() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "WebFetch", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
    ]
    req = decode_request(
        _body(tools=TOOLS, messages=messages, tool_choice={"type": "tool", "name": "Cron"})
    )
    assert [t.name for t in req.tools] == ["ToolSearch", "Read", "WebFetch", "Cron"]


RECORDING = Path(__file__).parents[1] / "data" / "claude_code_session.json"


def _encoders() -> dict[str, Callable[[ir.Request], dict[str, Any]]]:
    from switchboard.dialects.bedrock_converse import upstream_request as converse
    from switchboard.dialects.gemini import upstream_request as gemini
    from switchboard.dialects.openai_chat import upstream_request as openai

    return {
        "openai": lambda r: openai.encode_request(r, openai.UpstreamProfile("m", "m")).body,
        "gemini": lambda r: gemini.encode_request(r, gemini.UpstreamProfile("m", "m")).body,
        "converse": lambda r: converse.encode_request(r, converse.UpstreamProfile("m", "m")).body,
    }


@pytest.mark.parametrize("dialect", ["openai", "gemini", "converse"])
def test_every_translation_of_the_recorded_session_leaves_the_line_out(dialect: str) -> None:
    encode = _encoders()[dialect]
    for turn in orjson.loads(RECORDING.read_bytes())["turns"]:
        raw = orjson.dumps(turn["body"])
        assert b"x-anthropic-billing-header" in raw
        sent = orjson.dumps(encode(decode_request(raw)))
        assert b"x-anthropic-billing-header" not in sent
        assert b"DeferredToolPlaceholder" not in sent
        assert b"You are a Claude agent" in sent  # the rest of the system prompt
