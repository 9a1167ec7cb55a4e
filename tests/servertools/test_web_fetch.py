"""`web_fetch`'s `max_content_tokens` through the emulation: an Anthropic SDK client asks a
model served by an OpenAI-dialect upstream to fetch a long page on loopback; the model reads
the page's text cut to about that many tokens (the gateway's estimate: 4 ASCII characters a
token), the client gets the same text in its `web_fetch_tool_result`, and without the option
the fixed cap of 100,000 characters applies. A bad value is a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from anthropic.types import WebFetchTool20250910Param

from tests.servertools.harness import FETCH, ask, client, config, post
from tests.servertools.scripted import upstream_fixture  # noqa: F401 - fixtures
from tests.support.envelope import assert_envelope
from tests.support.file_server import FileServer, Reply
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

# 200,000 characters of numbered words: where a cut falls can be read off the text.
PAGE = " ".join(f"word{i:05d}" for i in range(20_000))
NON_ASCII = "é" * 1_000  # 0.9 tokens a character in the estimate


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    routes = {
        "/long.txt": Reply(PAGE.encode(), content_type="text/plain; charset=utf-8"),
        "/accents.txt": Reply(NON_ASCII.encode(), content_type="text/plain; charset=utf-8"),
    }
    with FileServer(routes=routes) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    database = tmp_path_factory.mktemp("ledger") / "ledger.db"
    with GatewayProcess(config(upstream, None, f"sqlite:///{database}")) as gw:
        yield gw


def _model_read(upstream: ScriptedUpstream) -> str:
    """What the model was given as the fetch's result (the loop's second call)."""
    _, second = (r.json for r in upstream.received)
    assert isinstance(second, dict)
    (result,) = [m["content"] for m in second["messages"] if m["role"] == "tool"]
    assert isinstance(result, str)
    return result


def _fetch(
    gw: GatewayProcess, upstream: ScriptedUpstream, url: str, max_content_tokens: int | None = None
) -> str:
    """Fetches `url` through the SDK; returns the text the client got in its result block
    (after checking the model read the same)."""
    tool: WebFetchTool20250910Param = {"type": "web_fetch_20250910", "name": "web_fetch"}
    if max_content_tokens is not None:
        tool["max_content_tokens"] = max_content_tokens
    upstream.reset()
    with client(gw) as sdk:
        message = sdk.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": f"fetch {url}"}],
            tools=[tool],
        )
    assert [b.type for b in message.content] == [
        "text",
        "server_tool_use",
        "web_fetch_tool_result",
        "text",
    ]
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_fetch_requests == 1
    result = message.content[2]
    assert result.type == "web_fetch_tool_result"
    assert result.content.type == "web_fetch_result"
    source = result.content.content.source
    assert source.type == "text"
    assert _model_read(upstream) == f"Fetched {url}:\n{source.data}"
    return source.data


def test_max_content_tokens_cuts_what_the_model_reads(
    gateway: GatewayProcess, upstream: ScriptedUpstream, files: FileServer
) -> None:
    text = _fetch(gateway, upstream, files.url + "/long.txt", max_content_tokens=100)
    assert text == PAGE[:400]  # 100 tokens of ASCII: 400 characters


def test_without_it_the_fixed_cap_applies(
    gateway: GatewayProcess, upstream: ScriptedUpstream, files: FileServer
) -> None:
    assert _fetch(gateway, upstream, files.url + "/long.txt") == PAGE[:100_000]


def test_a_limit_above_the_fixed_cap_is_honoured(
    gateway: GatewayProcess, upstream: ScriptedUpstream, files: FileServer
) -> None:
    text = _fetch(gateway, upstream, files.url + "/long.txt", max_content_tokens=40_000)
    assert text == PAGE[:160_000]


def test_text_other_than_ascii_is_cut_by_the_same_estimate(
    gateway: GatewayProcess, upstream: ScriptedUpstream, files: FileServer
) -> None:
    text = _fetch(gateway, upstream, files.url + "/accents.txt", max_content_tokens=90)
    assert text == NON_ASCII[:100]  # 0.9 tokens each: 100 characters are 90 tokens


@pytest.mark.parametrize("value", [0, -5, 2.5, "100", True])
def test_a_bad_max_content_tokens_is_a_400_naming_it(
    gateway: GatewayProcess, upstream: ScriptedUpstream, files: FileServer, value: object
) -> None:
    upstream.reset()
    calc = {"name": "calc", "input_schema": {"type": "object"}}
    url = files.url + "/long.txt"
    resp = post(gateway, ask(f"fetch {url}", calc, {**FETCH, "max_content_tokens": value}))
    body = assert_envelope(resp, 400, "invalid_request_error", "tools.1.max_content_tokens")
    assert body["error"]["message"].startswith("tools.1.max_content_tokens: ")
    assert upstream.received == []


def test_only_web_fetch_takes_it(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.reset()
    search = {"type": "web_search_20250305", "name": "web_search", "max_content_tokens": 100}
    resp = post(gateway, ask("search", search))
    assert_envelope(resp, 400, "invalid_request_error", "tools.0.max_content_tokens")
    assert upstream.received == []
