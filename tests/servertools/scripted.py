"""Loopback stand-ins for what is outside our control: a search engine speaking SearXNG's,
Brave's, Tavily's and Exa's APIs, and an OpenAI-dialect model that calls the function tool the
gateway offers for a server tool, then answers from what the tool returned."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.support.mock_upstream import JsonReply, Received, Reply, ScriptedUpstream
from tests.support.openai_wire import openai_completion, openai_stream, openai_tool_call

BRAVE_KEY = "brave-test-key-1234"
TAVILY_KEY = "tvly-test-key-5678"
EXA_KEY = "4b1f0c7e-93d2-4a6e-b8f5-0c2d7e9a1f36"  # Exa's keys are UUIDs: no shape to spot
# The passage Exa returns for a hit (its highlights), which the model reads as the snippet.
EXA_HIGHLIGHT = "Switchboard routes every request through one pipeline."

# What every engine finds: one page on the allowed domain, one elsewhere.
HITS = [
    ("https://docs.example.org/gateway", "Gateway docs", "Switchboard routes every request."),
    ("https://blog.other.net/post", "Other blog", "An unrelated post."),
]


def searxng(query: str) -> dict[str, Any]:
    return {
        "query": query,
        "number_of_results": len(HITS),
        "results": [
            {
                "url": url,
                "title": title,
                "content": text,
                "engine": "duckduckgo",
                "engines": ["duckduckgo"],
                "parsed_url": ["https", url.split("/")[2], "/", "", "", ""],
                "score": 1.0,
                "category": "general",
                "publishedDate": None,
            }
            for url, title, text in HITS
        ],
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": [],
        "unresponsive_engines": [],
    }


def brave(query: str) -> dict[str, Any]:
    return {
        "type": "search",
        "query": {"original": query, "more_results_available": False},
        "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
        "web": {
            "type": "search",
            "family_friendly": True,
            "results": [
                {
                    "type": "search_result",
                    "title": title,
                    "url": url,
                    "description": text,
                    "page_age": "2026-11-02T00:00:00",
                    "language": "en",
                }
                for url, title, text in HITS
            ],
        },
    }


def tavily(query: str) -> dict[str, Any]:
    return {
        "query": query,
        "follow_up_questions": None,
        "answer": None,
        "images": [],
        "results": [
            {"title": title, "url": url, "content": text, "score": 0.9, "raw_content": None}
            for url, title, text in HITS
        ],
        "response_time": 0.42,
    }


def exa(query: str) -> dict[str, Any]:
    """Exa's reply when asked for highlights: no `text`, `highlights` and their scores."""
    return {
        "requestId": "b5947044c4b78efa9552a7c89b306d95",
        "resolvedSearchType": "neural",
        "results": [
            {
                "id": url,
                "title": title,
                "url": url,
                "publishedDate": "2026-10-30T00:00:00.000Z",
                "author": None,
                "score": 0.5,
                "highlights": [EXA_HIGHLIGHT if i == 0 else text],
                "highlightScores": [0.8],
            }
            for i, (url, title, text) in enumerate(HITS)
        ],
        "searchType": "neural",
        "context": query,
        "costDollars": {"total": 0.005},
    }


def search_engine(rec: Received) -> Reply:
    """Routes by path: /searxng/search, /res/v1/web/search (Brave), /tavily/search (Tavily),
    /exa/search (Exa); /broken answers 503. A request without its vendor's credentials gets 401."""
    params = {k: v[0] for k, v in parse_qs(rec.query).items()}
    if rec.path == "/searxng/search" and params.get("format") == "json":
        return JsonReply(searxng(params["q"]))
    if rec.path == "/res/v1/web/search":
        if rec.headers.get("x-subscription-token") != BRAVE_KEY:
            return JsonReply({"error": "unauthorized"}, status=401)
        return JsonReply(brave(params["q"]))
    if rec.path == "/tavily/search" and rec.method == "POST":
        if rec.headers.get("authorization") != f"Bearer {TAVILY_KEY}":
            return JsonReply({"detail": {"error": "Unauthorized"}}, status=401)
        assert isinstance(rec.json, dict)
        return JsonReply(tavily(rec.json["query"]))
    if rec.path == "/exa/search" and rec.method == "POST":
        if rec.headers.get("x-api-key") != EXA_KEY:
            return JsonReply({"error": "Invalid API key"}, status=401)
        assert isinstance(rec.json, dict)
        return JsonReply(exa(rec.json["query"]))
    return JsonReply({"error": "unavailable"}, status=503)


def _user_texts(messages: list[dict[str, Any]]) -> str:
    return " ".join(str(m["content"]) for m in messages if m["role"] == "user")


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            content = m["content"]
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content)
    return ""


def model(rec: Received) -> Reply:
    """The model: asked to "search for X" it calls web_search (twice for "search twice"),
    asked to "fetch URL" it calls web_fetch, and in Claude Code (asked with SBSEARCH) its
    WebSearch tool; once tool results are in, it answers with the first URL or line it read in
    them."""
    body = rec.json
    assert isinstance(body, dict)
    messages: list[dict[str, Any]] = body["messages"]
    stream = bool(body.get("stream"))
    offered = {t["function"]["name"] for t in body.get("tools", []) if "function" in t}
    called = [
        call["function"]["name"]
        for m in messages
        if m["role"] == "assistant"
        for call in m.get("tool_calls") or []
    ]
    asked = _last_user_text(messages)
    calls: list[tuple[str, dict[str, Any]]] = []
    fetch = re.search(r"fetch (\S+)", asked)
    if "SBSEARCH" in _user_texts(messages) and "WebSearch" not in called:
        # Claude Code: its WebSearch tool is deferred (found with ToolSearch first); it runs
        # it by asking the gateway again, with the web_search server tool.
        if "WebSearch" in offered:
            calls.append(("WebSearch", {"query": "switchboard gateway"}))
        elif "ToolSearch" in offered and "ToolSearch" not in called:
            calls.append(("ToolSearch", {"query": "select:WebSearch", "max_results": 1}))
    elif messages[-1]["role"] == "tool" or called:
        seen = "\n".join(str(m["content"]) for m in messages if m["role"] == "tool")
        found = re.search(r"https?://[^\s\"')\]]+", seen)
        answer = f"Answer from {found.group(0) if found else seen[:60]}"
        if stream:
            return openai_stream(["Answer ", answer.removeprefix("Answer ")])
        return openai_completion(answer)
    elif fetch:
        calls.append(("web_fetch", {"url": fetch.group(1)}))
    elif "search" in asked:
        calls.append(("web_search", {"query": "switchboard gateway"}))
        if "twice" in asked:
            calls.append(("web_search", {"query": "switchboard again"}))
        if "and calc" in asked:
            calls.append(("calc", {"expression": "6*7"}))
    if not calls:
        return openai_stream(["no tools"]) if stream else openai_completion("no tools")
    if stream:
        # Ids unique in the conversation, as a model's are (Claude Code keeps one call per id).
        deltas: list[dict[str, Any]] = []
        for i, (name, args) in enumerate(calls):
            deltas.append(
                {
                    "index": i,
                    "id": f"call_{len(called) + i}",
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
            )
            deltas.append({"index": i, "function": {"arguments": json.dumps(args)}})
        return openai_stream(["Let me look. "], tool_call_deltas=deltas, finish_reason="tool_calls")
    return openai_completion(
        "Let me look.",
        finish_reason="tool_calls",
        tool_calls=[
            openai_tool_call(n, a, id_=f"call_{len(called) + i}") for i, (n, a) in enumerate(calls)
        ],
    )


@pytest.fixture(scope="module", name="engine")
def engine_fixture() -> Iterator[ScriptedUpstream]:
    """The search engine (import it into a test module to use it)."""
    with ScriptedUpstream(search_engine) as server:
        yield server


@pytest.fixture(scope="module", name="upstream")
def upstream_fixture() -> Iterator[ScriptedUpstream]:
    """The model (import it into a test module to use it)."""
    with ScriptedUpstream(model) as server:
        yield server
