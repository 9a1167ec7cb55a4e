"""The Claude Code session a request belongs to (api/session.py), and what routing reads of a
request's head in each dialect (thinking, tools' types and names)."""

from __future__ import annotations

import orjson
import pytest

from switchboard.api.session import session_of
from switchboard.dialects.anthropic import request as anthropic
from switchboard.dialects.openai_chat import request as openai

SID = "0b5e7d3c-6f1e-4a9e-9a55-4a6c1f2e3d4b"
USER_ID = orjson.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": SID}).decode()


@pytest.mark.parametrize(
    ("headers", "user_id", "expected"),
    [
        ({"x-claude-code-session-id": "hdr-1"}, USER_ID, "hdr-1"),  # the header wins
        ({}, USER_ID, SID),
        ({"x-claude-code-session-id": "bad value\n"}, USER_ID, SID),  # an invalid header: body
        ({}, "plain-user-id", None),  # not Claude Code's JSON: no session
        ({}, '{"session_id": 7}', None),
        ({}, '{"session_id": "x' + "y" * 64 + '"}', None),  # over 64 characters
        ({}, '{"session_id": "a;DROP TABLE usage"}', None),
        ({}, "{not json", None),
        ({"x-claude-code-session-id": "s" * 64}, None, "s" * 64),
        ({"x-claude-code-session-id": "s" * 65}, None, None),
        ({}, None, None),
    ],
)
def test_the_session_is_a_bounded_plain_id(
    headers: dict[str, str], user_id: str | None, expected: str | None
) -> None:
    assert session_of(headers, user_id) == expected


def test_anthropic_head_gives_thinking_and_tool_keys() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [
            {"name": "Write", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
    }
    head = anthropic.decode_head(orjson.dumps(body))
    assert anthropic.head_thinking(head)
    assert anthropic.tool_keys(head.tools) == {"Write", "web_search_20250305", "web_search"}
    off = anthropic.decode_head(orjson.dumps(body | {"thinking": {"type": "disabled"}}))
    assert not anthropic.head_thinking(off)
    bare = anthropic.decode_head(orjson.dumps({"model": "m", "max_tokens": 1, "messages": []}))
    assert not anthropic.head_thinking(bare)
    assert anthropic.tool_keys(bare.tools) == frozenset()
    broken = anthropic.decode_head(orjson.dumps(body | {"tools": [3]}))
    assert anthropic.tool_keys(broken.tools) == frozenset()  # the full decode names it


def test_openai_head_gives_reasoning_and_tool_keys() -> None:
    body = {
        "model": "m",
        "messages": [],
        "reasoning_effort": "high",
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
    }
    head = openai.decode_head(orjson.dumps(body))
    assert openai.head_thinking(head)
    assert openai.tool_keys(head.tools) == {"function", "lookup"}
    assert not openai.head_thinking(
        openai.decode_head(orjson.dumps(body | {"reasoning_effort": "none"}))
    )
