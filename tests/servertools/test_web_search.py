"""Server tools on a model without them: an Anthropic client asks for `web_search` (or
`web_fetch`) of a model served by an OpenAI-dialect upstream; the gateway offers the model a
function tool, runs the search on a loopback engine (SearXNG's, Brave's, Tavily's and Exa's APIs) or
the fetch under the URL guard, and answers with what Anthropic's API would: `server_tool_use`,
`web_search_tool_result` / `web_fetch_tool_result`, the model's answer, summed usage and
`usage.server_tool_use`; the ledger counts and prices the searches."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.servertools.harness import FETCH, SEARCH, ask, client, config, post
from tests.servertools.scripted import (  # noqa: F401 - fixtures
    BRAVE_KEY,
    EXA_HIGHLIGHT,
    EXA_KEY,
    TAVILY_KEY,
    engine_fixture,
    model,
    upstream_fixture,
)
from tests.support.file_server import FileServer, Reply
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import (
    Received,
    ScriptedUpstream,
    anthropic_message,
    openai_error,
)
from tests.support.stream_validator import (
    StreamErrorEvent,
    accumulate_message,
    validate_anthropic_stream,
)

PAGE = (
    b"<html><head><title>T</title><script>var x=1;</script></head>"
    b"<body><p>Fetched fact 7</p></body></html>"
)


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    routes = {"/page.html": Reply(PAGE, content_type="text/html; charset=utf-8")}
    with FileServer(routes=routes) as server:
        yield server


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ledger") / "ledger.db"


@pytest.fixture(scope="module")
def gateway(
    engine: ScriptedUpstream, upstream: ScriptedUpstream, database: Path
) -> Iterator[GatewayProcess]:
    search = {"backend": "searxng", "url": engine.base_url + "/searxng", "price_per_1000": 10}
    with GatewayProcess(config(upstream, search, f"sqlite:///{database}")) as gw:
        yield gw


def test_a_search_answered_through_the_emulation(
    gateway: GatewayProcess, upstream: ScriptedUpstream, engine: ScriptedUpstream
) -> None:
    upstream.reset()
    engine.reset()
    with client(gateway) as sdk:
        message = sdk.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": "search the web for switchboard"}],
            tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
        )
    kinds = [b.type for b in message.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]
    use, result = message.content[1], message.content[2]
    assert use.type == "server_tool_use"
    assert use.id.startswith("srvtoolu_")
    assert use.name == "web_search"
    assert use.input == {"query": "switchboard gateway"}
    assert result.type == "web_search_tool_result"
    assert result.tool_use_id == use.id
    assert isinstance(result.content, list)
    assert [r.url for r in result.content] == [
        "https://docs.example.org/gateway",
        "https://blog.other.net/post",
    ]
    assert all(r.encrypted_content for r in result.content)
    last = message.content[3]
    assert last.type == "text"
    assert last.text == "Answer from https://docs.example.org/gateway"
    assert message.stop_reason == "end_turn"
    # Two model calls of 11 + 3 tokens, summed; one search.
    assert (message.usage.input_tokens, message.usage.output_tokens) == (22, 6)
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1
    # The engine got the query in SearXNG's API; the model a function tool, then the results.
    (searched,) = engine.received
    assert searched.path == "/searxng/search"
    assert parse_qs(searched.query) == {"q": ["switchboard gateway"], "format": ["json"]}
    first, second = (r.json for r in upstream.received)
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    assert [t["function"]["name"] for t in first["tools"]] == ["web_search"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["query"]
    tool_turn = second["messages"][-1]
    assert tool_turn["role"] == "tool"
    assert "Switchboard routes every request." in tool_turn["content"]


def test_the_stream_carries_the_same_blocks_in_order(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.reset()
    resp = post(gateway, ask("search the web", SEARCH, stream=True))
    assert resp.status_code == 200, resp.text
    events = validate_anthropic_stream(resp.content)
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["text", "server_tool_use", "web_search_tool_result", "text"]
    assert [e["index"] for e in events if e["type"] == "content_block_start"] == [0, 1, 2, 3]
    message = accumulate_message(resp.content)
    assert message["content"][1]["input"] == {"query": "switchboard gateway"}
    assert message["content"][1]["id"].startswith("srvtoolu_")
    assert message["content"][2]["tool_use_id"] == message["content"][1]["id"]
    assert message["content"][3]["text"] == "Answer from https://docs.example.org/gateway"
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["server_tool_use"]["web_search_requests"] == 1
    assert message["usage"]["output_tokens"] == 6
    assert len(upstream.received) == 2
    # The SDK's own stream accumulator agrees.
    with client(gateway) as sdk, sdk.messages.stream(**ask("search the web", SEARCH)) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert final.usage.server_tool_use is not None
    assert final.usage.server_tool_use.web_search_requests == 1


def test_allowed_domains_and_max_uses_are_honoured(gateway: GatewayProcess) -> None:
    tool = {**SEARCH, "allowed_domains": ["example.org"], "max_uses": 1}
    resp = post(gateway, ask("search twice", tool))
    assert resp.status_code == 200, resp.text
    content = resp.json()["content"]
    kinds = [b["type"] for b in content]
    assert kinds == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert [r["url"] for r in content[2]["content"]] == ["https://docs.example.org/gateway"]
    assert content[4]["content"] == {
        "type": "web_search_tool_result_error",
        "error_code": "max_uses_exceeded",
    }
    assert resp.json()["usage"]["server_tool_use"]["web_search_requests"] == 1


def test_a_fetch_under_the_guard(gateway: GatewayProcess, files: FileServer) -> None:
    url = files.url + "/page.html"
    resp = post(gateway, ask(f"fetch {url}", FETCH))
    assert resp.status_code == 200, resp.text
    content = resp.json()["content"]
    assert [b["type"] for b in content] == [
        "text",
        "server_tool_use",
        "web_fetch_tool_result",
        "text",
    ]
    fetched = content[2]["content"]
    assert fetched["type"] == "web_fetch_result"
    assert fetched["url"] == url
    assert "Fetched fact 7" in fetched["content"]["source"]["data"]
    assert "var x" not in fetched["content"]["source"]["data"]
    assert content[3]["text"].startswith("Answer from " + url)
    usage = resp.json()["usage"]["server_tool_use"]
    assert usage == {"web_search_requests": 0, "web_fetch_requests": 1}


def test_a_failing_engine_is_a_result_error_not_a_failed_request(
    upstream: ScriptedUpstream, engine: ScriptedUpstream, tmp_path: Path
) -> None:
    search = {"backend": "searxng", "url": engine.base_url + "/broken"}
    with GatewayProcess(config(upstream, search, f"sqlite:///{tmp_path / 'l.db'}")) as gw:
        resp = post(gw, ask("search", SEARCH))
    assert resp.status_code == 200, resp.text
    result = resp.json()["content"][2]
    assert result["content"] == {
        "type": "web_search_tool_result_error",
        "error_code": "unavailable",
    }


@pytest.mark.parametrize(
    ("backend", "extra"),
    [
        ("brave", {"api_key": BRAVE_KEY, "path": "/res/v1/web/search"}),
        ("tavily", {"api_key": TAVILY_KEY, "path": "/tavily/search"}),
        ("exa", {"api_key": EXA_KEY, "path": "/exa/search"}),
    ],
)
def test_brave_tavily_and_exa(
    backend: str,
    extra: dict[str, str],
    upstream: ScriptedUpstream,
    engine: ScriptedUpstream,
    tmp_path: Path,
) -> None:
    search = {
        "backend": backend,
        "url": engine.base_url + extra["path"],
        "api_key": extra["api_key"],
    }
    engine.reset()
    upstream.reset()
    with GatewayProcess(config(upstream, search, f"sqlite:///{tmp_path / 'l.db'}")) as gw:
        tool = {**SEARCH, "blocked_domains": ["other.net"]}
        resp = post(gw, ask("search", tool))
    assert extra["api_key"] not in gw.output()
    assert resp.status_code == 200, resp.text
    result = resp.json()["content"][2]
    assert [r["url"] for r in result["content"]] == ["https://docs.example.org/gateway"]
    (searched,) = engine.received
    assert searched.path == extra["path"]
    if backend == "tavily":
        assert searched.json == {
            "query": "switchboard gateway",
            "max_results": 5,
            "exclude_domains": ["other.net"],
        }
    if backend == "exa":
        assert searched.headers["x-api-key"] == EXA_KEY
        assert searched.json == {
            "query": "switchboard gateway",
            "numResults": 5,
            "contents": {"highlights": {"maxCharacters": 1000}},
            "excludeDomains": ["other.net"],
        }
        # The model read the hit's highlight as its snippet, and its date as the page's age.
        assert result["content"][0]["page_age"] == "2026-10-30T00:00:00.000Z"
        answered = upstream.received[-1].json
        assert isinstance(answered, dict)
        read = [m["content"] for m in answered["messages"] if m["role"] == "tool"]
        assert EXA_HIGHLIGHT in str(read)


def test_without_a_search_engine_the_tool_is_refused_by_name(
    upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    upstream.reset()
    with GatewayProcess(config(upstream, None, f"sqlite:///{tmp_path / 'l.db'}")) as gw:
        resp = post(gw, ask("search", {"name": "calc", "input_schema": {"type": "object"}}, SEARCH))
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("tools.1: web_search_20250305 is not available")
    assert "search:" in error["message"]
    assert upstream.received == []


def _wait_for_row(database: Path, before: int) -> tuple[int, int, int, int]:
    deadline = time.monotonic() + 10
    while len(_ledger(database)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    rows = _ledger(database)
    assert len(rows) == before + 1
    return rows[-1]


def _ledger(database: Path) -> list[tuple[int, int, int, int]]:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT web_search_requests, web_fetch_requests, input_tokens, cost_nusd FROM usage"
            " WHERE web_search_requests > 0 OR web_fetch_requests > 0"
        ).fetchall()


def test_the_ledger_counts_and_prices_searches(gateway: GatewayProcess, database: Path) -> None:
    before = len(_ledger(database))
    resp = post(gateway, ask("search", SEARCH))
    assert resp.status_code == 200, resp.text
    searches, fetches, input_tokens, cost = _wait_for_row(database, before)
    assert (searches, fetches, input_tokens) == (1, 0, 22)
    # 22 input tokens at $1/M, 6 output at $2/M, one search at $10 per 1,000.
    assert cost == 22 * 1_000 + 6 * 2_000 + 10_000_000


def test_anthropic_runs_its_own_searches_and_the_ledger_prices_them(
    gateway: GatewayProcess, upstream: ScriptedUpstream, database: Path
) -> None:
    """Relayed to Anthropic, the server tool goes as the client sent it; the searches Anthropic
    reports are counted and priced like the gateway's own."""
    use = {"type": "server_tool_use", "id": "srvtoolu_01x", "name": "web_search", "input": {}}
    found = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01x", "content": []}
    reply = anthropic_message(content=[use, found, {"type": "text", "text": "done"}])
    assert isinstance(reply.body, dict)
    reply.body["usage"]["server_tool_use"] = {"web_search_requests": 2, "web_fetch_requests": 0}
    upstream.reset()
    upstream.enqueue(reply)
    before = len(_ledger(database))
    body = {**ask("search", {**SEARCH, "max_uses": 4}), "model": "claude-relayed"}
    resp = post(gateway, body)
    assert resp.status_code == 200, resp.text
    assert [b["type"] for b in resp.json()["content"]][:2] == [
        "server_tool_use",
        "web_search_tool_result",
    ]
    (sent,) = upstream.received
    assert isinstance(sent.json, dict)
    assert sent.json["tools"] == [{**SEARCH, "max_uses": 4}]
    searches, _, input_tokens, cost = _wait_for_row(database, before)
    assert (searches, input_tokens) == (2, 10)
    assert cost == 10 * 1_000 + 2 * 2_000 + 2 * 10_000_000


def test_a_turn_that_also_calls_a_client_tool_ends_with_tool_use(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    upstream.reset()
    calc = {"name": "calc", "input_schema": {"type": "object"}}
    resp = post(gateway, ask("search and calc", SEARCH, calc))
    assert resp.status_code == 200, resp.text
    message = resp.json()
    kinds = [b["type"] for b in message["content"]]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "tool_use"]
    assert message["content"][3]["name"] == "calc"
    assert message["stop_reason"] == "tool_use"
    assert len(upstream.received) == 1  # the client runs its tool before the model goes on


def test_the_reply_sent_back_as_history_gives_the_model_the_results_again(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    first = post(gateway, ask("search", SEARCH)).json()
    upstream.reset()
    body = ask("search", SEARCH)
    body["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": "thanks"},
    ]
    resp = post(gateway, body)
    assert resp.status_code == 200, resp.text
    sent = upstream.received[0].json
    assert isinstance(sent, dict)
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    call = sent["messages"][1]["tool_calls"][0]
    assert call["function"]["name"] == "web_search"
    assert call["id"] == first["content"][1]["id"]
    # The page text the gateway put in encrypted_content reaches the model again.
    assert "Switchboard routes every request." in sent["messages"][2]["content"]
    assert sent["messages"][3]["content"] == "Answer from https://docs.example.org/gateway"


def test_a_model_call_failing_mid_loop_ends_the_stream_with_an_error_event(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    """The client has the first call's blocks and the search already: the failure of the next
    model call travels in the stream, after them, and the grammar still holds."""
    upstream.reset()
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "search"}]}
    first = model(Received("POST", "/v1/chat/completions", "", {}, b"", body))
    upstream.enqueue(first, openai_error(400, "context too long"))
    resp = post(gateway, ask("search", SEARCH, stream=True))
    assert resp.status_code == 200, resp.text
    validate_anthropic_stream(resp.content)
    with pytest.raises(StreamErrorEvent) as caught:
        accumulate_message(resp.content)
    assert caught.value.error["type"] == "invalid_request_error"
    starts = [
        e["content_block"]["type"]
        for e in validate_anthropic_stream(resp.content)
        if e["type"] == "content_block_start"
    ]
    assert starts == ["text", "server_tool_use", "web_search_tool_result"]
    assert len(upstream.received) == 2


def test_a_budget_reserves_the_searches_a_request_may_make(gateway: GatewayProcess) -> None:
    """Ten searches may cost $0.10: a key with $0.05 left may not ask for them, but may ask for
    one, or for none."""
    made = httpx.post(
        gateway.url + "/admin/keys",
        json={"name": "thrifty", "budget_usd": 0.05},
        headers={"authorization": "Bearer sk-servertools-master"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]

    def send(*tools: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            gateway.url + "/v1/messages",
            json=ask("search", *tools),
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
            timeout=20,
        )

    refused = send({**SEARCH, "max_uses": 10})
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["type"] == "billing_error"
    assert send({**SEARCH, "max_uses": 1}).status_code == 200
    assert send().status_code == 200
