"""The search engines behind the `web_search` server tool, registered by the name the config's
`search.backend` gives. Each turns (query, domains, count) into one HTTP call in the engine's
own API and its reply into hits; whatever goes wrong becomes `SearchFailed` with the error
code Anthropic's API would report, never a failed request.

The engine is the operator's choice, not the client's: its URL is trusted like an upstream's
(no URL guard). aiohttp does the HTTP, one session per search: searches are rare next to
model calls, and a session per call leaves nothing to close at shutdown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import msgspec

from switchboard import ir
from switchboard.config import Search

BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
TAVILY_URL = "https://api.tavily.com/search"
EXA_URL = "https://api.exa.ai/search"
# How much of a page Exa returns as its highlights: a snippet's worth, as the other engines'.
EXA_HIGHLIGHT_CHARS = 1000
# What a reply may be: a page of hits is a few kilobytes.
_MAX_REPLY = 4 * 1024 * 1024


class SearchFailed(Exception):
    """`code`: the error code the client sees in a `web_search_tool_result_error`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    count: int
    allowed_domains: Sequence[str] = ()
    blocked_domains: Sequence[str] = ()

    def with_sites(self) -> str:
        """The query with `site:` operators for the allowed domains, for engines that have no
        domain parameter (the hits are filtered again afterwards)."""
        if not self.allowed_domains:
            return self.text
        sites = " OR ".join(f"site:{d}" for d in self.allowed_domains)
        return f"{self.text} ({sites})" if len(self.allowed_domains) > 1 else f"{self.text} {sites}"


class Backend(Protocol):
    async def search(self, query: Query) -> list[ir.SearchHit]: ...


async def _call(
    method: str,
    url: str,
    seconds: float,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
) -> Any:
    timeout = aiohttp.ClientTimeout(total=seconds)
    try:
        async with (
            # trust_env: through HTTPS_PROXY/HTTP_PROXY (and NO_PROXY), as upstreams are.
            aiohttp.ClientSession(timeout=timeout, trust_env=True) as session,
            session.request(method, url, params=params, headers=headers, json=json) as resp,
        ):
            if resp.status == 429:
                raise SearchFailed("too_many_requests")
            if resp.status != 200:
                raise SearchFailed("unavailable")
            body = await resp.content.read(_MAX_REPLY + 1)
    except (aiohttp.ClientError, TimeoutError, OSError):
        raise SearchFailed("unavailable") from None
    if len(body) > _MAX_REPLY:
        raise SearchFailed("unavailable")
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise SearchFailed("unavailable") from None


def _items(reply: Any, *path: str) -> list[dict[str, Any]]:
    for key in path:
        reply = reply.get(key) if isinstance(reply, dict) else None
    if not isinstance(reply, list):
        raise SearchFailed("unavailable")
    return [item for item in reply if isinstance(item, dict)]


def _hit(item: dict[str, Any], snippet: str, age: str) -> ir.SearchHit | None:
    url, title = item.get("url"), item.get("title")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    text, when = item.get(snippet), item.get(age)
    return ir.SearchHit(
        url=url,
        title=title if isinstance(title, str) else url,
        snippet=text if isinstance(text, str) else "",
        page_age=when if isinstance(when, str) else None,
    )


class SearXNG:
    """A SearXNG instance's JSON API (`format=json` must be enabled in its settings)."""

    def __init__(self, cfg: Search) -> None:
        assert cfg.url is not None  # the config check requires it
        base = cfg.url.rstrip("/")
        self._url = base if base.endswith("/search") else base + "/search"
        self._seconds = cfg.timeout

    async def search(self, query: Query) -> list[ir.SearchHit]:
        params = {"q": query.with_sites(), "format": "json"}
        reply = await _call("GET", self._url, self._seconds, params=params)
        hits = (_hit(item, "content", "publishedDate") for item in _items(reply, "results"))
        return [h for h in hits if h is not None]


class Brave:
    """Brave Search's web search API."""

    def __init__(self, cfg: Search) -> None:
        self._url = cfg.url or BRAVE_URL
        self._headers = {
            "Accept": "application/json",
            "X-Subscription-Token": cfg.api_key or "",
        }
        self._seconds = cfg.timeout

    async def search(self, query: Query) -> list[ir.SearchHit]:
        params = {"q": query.with_sites(), "count": str(min(query.count, 20))}
        reply = await _call("GET", self._url, self._seconds, params=params, headers=self._headers)
        if isinstance(reply, dict) and "web" not in reply:
            return []  # Brave leaves `web` out when nothing was found
        hits = (_hit(item, "description", "page_age") for item in _items(reply, "web", "results"))
        return [h for h in hits if h is not None]


class Tavily:
    """Tavily's search API, which filters domains itself."""

    def __init__(self, cfg: Search) -> None:
        self._url = cfg.url or TAVILY_URL
        self._headers = {"Authorization": f"Bearer {cfg.api_key or ''}"}
        self._seconds = cfg.timeout

    async def search(self, query: Query) -> list[ir.SearchHit]:
        body: dict[str, Any] = {"query": query.text, "max_results": query.count}
        if query.allowed_domains:
            body["include_domains"] = list(query.allowed_domains)
        if query.blocked_domains:
            body["exclude_domains"] = list(query.blocked_domains)
        reply = await _call("POST", self._url, self._seconds, headers=self._headers, json=body)
        hits = (_hit(item, "content", "published_date") for item in _items(reply, "results"))
        return [h for h in hits if h is not None]


class Exa:
    """Exa's search API, which filters domains itself. It is asked for highlights (the
    passages that answer the query, short): its full page text would be far more than a
    snippet, and costs more."""

    def __init__(self, cfg: Search) -> None:
        self._url = cfg.url or EXA_URL
        self._headers = {"x-api-key": cfg.api_key or ""}
        self._seconds = cfg.timeout

    async def search(self, query: Query) -> list[ir.SearchHit]:
        body: dict[str, Any] = {
            "query": query.text,
            "numResults": min(query.count, 100),
            "contents": {"highlights": {"maxCharacters": EXA_HIGHLIGHT_CHARS}},
        }
        if query.allowed_domains:
            body["includeDomains"] = list(query.allowed_domains)
        if query.blocked_domains:
            body["excludeDomains"] = list(query.blocked_domains)
        reply = await _call("POST", self._url, self._seconds, headers=self._headers, json=body)
        hits = (_exa_hit(item) for item in _items(reply, "results"))
        return [h for h in hits if h is not None]


def _exa_hit(item: dict[str, Any]) -> ir.SearchHit | None:
    """An Exa result: its highlights joined are the snippet (else the start of its `text`,
    should the page text come back instead)."""
    hit = _hit(item, "text", "publishedDate")
    if hit is None:
        return None
    found = item.get("highlights")
    parts = [h for h in found if isinstance(h, str)] if isinstance(found, list) else []
    snippet = " ... ".join(parts) if parts else hit.snippet[:EXA_HIGHLIGHT_CHARS]
    return msgspec.structs.replace(hit, snippet=snippet)


BACKENDS: Mapping[str, Callable[[Search], Backend]] = {
    "searxng": SearXNG,
    "brave": Brave,
    "tavily": Tavily,
    "exa": Exa,
}
