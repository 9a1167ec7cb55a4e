"""Server tools, the pure parts: the `search:` config, and earlier turns' server tool blocks as
a model without server tools reads them."""

from __future__ import annotations

import base64
import json
from typing import get_args, get_type_hints

import pytest

from switchboard import ir
from switchboard.config import ConfigError, Search, parse_config
from switchboard.dialects.anthropic.request import decode_request
from switchboard.servertools.backends import BACKENDS, Exa


@pytest.mark.parametrize(
    ("search", "problem"),
    [
        (
            {"backend": "bing"},
            "search.backend: invalid value 'bing' (expected one of: searxng, brave, tavily, exa)",
        ),
        ({"backend": "searxng"}, "search.url: searxng needs the URL of its instance"),
        ({"backend": "brave"}, "search.api_key: brave needs an API key"),
        ({"backend": "exa"}, "search.api_key: exa needs an API key"),
        ({"backend": "tavily", "api_key": "k", "max_uses": 0}, "search.max_uses: must be from"),
        ({"backend": "searxng", "url": "ftp://x"}, "search.url: must be an http"),
    ],
)
def test_bad_search_configs_name_the_field(search: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"search": search}, "t.yaml", env={})
    assert problem in str(caught.value)


def test_search_is_off_unless_configured() -> None:
    assert parse_config({}, "t.yaml", env={}).search is None
    cfg = parse_config({"search": {"backend": "brave", "api_key": "k"}}, "t.yaml", env={})
    assert cfg.search is not None
    assert cfg.search.price_per_1000 == 10.0


def test_every_backend_the_config_takes_is_registered() -> None:
    assert set(get_args(get_type_hints(Search)["backend"])) == set(BACKENDS)
    cfg = parse_config({"search": {"backend": "exa", "api_key": "k"}}, "t.yaml", env={})
    assert cfg.search is not None
    assert isinstance(BACKENDS[cfg.search.backend](cfg.search), Exa)


def test_server_tools_decode_with_their_options() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"name": "calc", "input_schema": {"type": "object"}},
            {
                "type": "web_search_20260318",
                "name": "web_search",
                "max_uses": 2,
                "allowed_domains": ["example.org"],
            },
            {"type": "bash_20250124", "name": "bash"},
            {"type": "web_fetch_20250910", "name": "web_fetch", "max_content_tokens": 500},
        ],
    }
    request = decode_request(json.dumps(body).encode())
    assert [t.name for t in request.tools] == ["calc"]
    assert request.server_tools == (
        ir.ServerTool("web_search", "web_search_20260318", 1, 2, ("example.org",), ()),
        ir.ServerTool("web_fetch", "web_fetch_20250910", 3, max_content_tokens=500),
    )
    assert "tool bash (bash_20250124)" in request.dropped


def test_earlier_server_turns_become_a_call_and_its_result() -> None:
    snippet = base64.b64encode(b"Page text").decode()
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "find it"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "q"},
                    },
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "srvtoolu_1",
                        "content": [
                            {
                                "type": "web_search_result",
                                "url": "https://a.example/",
                                "title": "A",
                                "encrypted_content": snippet,
                            }
                        ],
                    },
                    {"type": "text", "text": "Found A."},
                ],
            },
            {"role": "user", "content": "thanks"},
        ],
    }
    messages = decode_request(json.dumps(body).encode()).messages
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1].content == (ir.ToolUse("srvtoolu_1", "web_search", {"query": "q"}),)
    (result,) = messages[2].content
    assert isinstance(result, ir.ToolResult)
    assert result.tool_use_id == "srvtoolu_1"
    assert result.content == (ir.Text("[1] A\nURL: https://a.example/\nPage text"),)
    assert messages[3].content == (ir.Text("Found A."),)
