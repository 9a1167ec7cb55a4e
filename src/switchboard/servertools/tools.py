"""The function tools a model without server tools is offered in their place, and running one
call of them: a search through the configured engine (backends.py), or a fetch under the URL
guard (upstreams/fetch.py). A call that cannot be served becomes a result with Anthropic's
error code, for the model to read; it never fails the request."""

from __future__ import annotations

import base64
import html.parser
from dataclasses import dataclass, field
from datetime import UTC, datetime

import yarl

from switchboard import ir
from switchboard.config import Documents, Search
from switchboard.counting import cut_to_tokens
from switchboard.servertools.backends import BACKENDS, Backend, Query, SearchFailed

SEARCH = ir.Tool(
    "web_search",
    "Search the web for current information. Returns the title, URL and an excerpt of each "
    "result; cite the URLs you use.",
    {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "The search query"}},
        "required": ["query"],
    },
)
FETCH = ir.Tool(
    "web_fetch",
    "Fetch the web page or PDF at a URL and return its text.",
    {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "The http(s) URL to fetch"}},
        "required": ["url"],
    },
)
OFFERED = {"web_search": SEARCH, "web_fetch": FETCH}

MAX_QUERY = 400  # characters; longer is `query_too_long`
MAX_URL = 2000  # characters; longer is `url_too_long`
# What the model reads of a fetched page without the tool's `max_content_tokens`: about
# 25,000 tokens. With it, the page is cut to that many tokens of the gateway's estimate
# (counting.py), above this cap too: `documents.max_bytes` still bounds the page.
DEFAULT_FETCH_CHARS = 100_000


def _host_matches(host: str, domains: tuple[str, ...]) -> bool:
    # A listed domain covers its subdomains (`example.com` covers `docs.example.com`); any path
    # part of the entry is ignored.
    host = host.lower().rstrip(".")
    for entry in domains:
        domain = entry.lower().split("/", 1)[0].removeprefix("www.")
        if host == domain or host.endswith("." + domain) or host == "www." + domain:
            return True
    return False


def allowed(url: str, tool: ir.ServerTool) -> bool:
    try:
        host = yarl.URL(url).host or ""
    except (ValueError, UnicodeError):
        return False
    if tool.allowed_domains and not _host_matches(host, tool.allowed_domains):
        return False
    return not (tool.blocked_domains and _host_matches(host, tool.blocked_domains))


class _Text(html.parser.HTMLParser):
    """The readable text of an HTML page: no markup, scripts or styles."""

    _SKIP = frozenset(("script", "style", "noscript", "template", "svg"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping and data.strip():
            self.parts.append(data.strip())


def html_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    parser.close()
    return "\n".join(parser.parts)


@dataclass(slots=True)
class Runner:
    """Runs the calls of one request: counts them, within each tool's `max_uses` and the
    gateway's cap (`search.max_uses`, else DEFAULT_MAX_USES)."""

    backend: Backend | None
    search: Search | None
    documents: Documents
    cap: int
    uses: dict[str, int] = field(default_factory=dict)
    searches: int = 0
    fetches: int = 0

    @classmethod
    def build(cls, search: Search | None, documents: Documents, cap: int) -> Runner:
        backend = BACKENDS[search.backend](search) if search is not None else None
        return cls(backend, search, documents, cap)

    def usage(self) -> ir.Usage:
        return ir.Usage(web_search_requests=self.searches, web_fetch_requests=self.fetches)

    async def run(
        self, call: ir.ToolUse, tool: ir.ServerTool, use_id: str
    ) -> ir.WebSearchResult | ir.WebFetchResult:
        used = self.uses.get(tool.name, 0)
        over = sum(self.uses.values()) >= self.cap or (
            tool.max_uses is not None and used >= tool.max_uses
        )
        self.uses[tool.name] = used + 1
        if tool.name == "web_search":
            if over:
                return ir.WebSearchResult(use_id, error_code="max_uses_exceeded")
            return await self._search(call, tool, use_id)
        if over:
            return ir.WebFetchResult(use_id, error_code="max_uses_exceeded")
        return await self._fetch(call, tool, use_id)

    async def _search(
        self, call: ir.ToolUse, tool: ir.ServerTool, use_id: str
    ) -> ir.WebSearchResult:
        text = call.input.get("query")
        if not isinstance(text, str) or not text.strip():
            return ir.WebSearchResult(use_id, error_code="invalid_tool_input")
        if len(text) > MAX_QUERY:
            return ir.WebSearchResult(use_id, error_code="query_too_long")
        # prepare() refused web_search without an engine.
        assert self.backend is not None
        assert self.search is not None
        count = self.search.max_results
        query = Query(text, count, tool.allowed_domains, tool.blocked_domains)
        # Counted when the engine is asked, as Anthropic counts: a failed search too.
        self.searches += 1
        try:
            hits = await self.backend.search(query)
        except SearchFailed as exc:
            return ir.WebSearchResult(use_id, error_code=exc.code)
        kept = tuple(h for h in hits if allowed(h.url, tool))[:count]
        return ir.WebSearchResult(use_id, kept)

    async def _fetch(self, call: ir.ToolUse, tool: ir.ServerTool, use_id: str) -> ir.WebFetchResult:
        url = call.input.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return ir.WebFetchResult(
                use_id, str(url or "")[:MAX_URL], error_code="invalid_tool_input"
            )
        if len(url) > MAX_URL:
            return ir.WebFetchResult(use_id, url[:MAX_URL], error_code="url_too_long")
        if not allowed(url, tool):
            return ir.WebFetchResult(use_id, url, error_code="url_not_allowed")
        # Imported on first use, as service.py's document fetch does.
        from switchboard.upstreams.fetch import FetchRefused, fetch_document
        from switchboard.upstreams.urlguard import UrlGuard

        cfg = self.documents
        self.fetches += 1
        try:
            body, content_type = await fetch_document(
                url,
                guard=UrlGuard.for_documents(cfg.allow_private_addresses),
                max_bytes=cfg.max_bytes,
                seconds=cfg.timeout,
            )
        except FetchRefused as exc:
            code = "url_not_allowed" if exc.guarded else "url_not_accessible"
            return ir.WebFetchResult(use_id, url, error_code=code)
        at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        media = content_type.split(";")[0].strip().lower()
        if media == "application/pdf":
            data = base64.b64encode(body).decode()
            return ir.WebFetchResult(use_id, url, data=data, media_type=media, retrieved_at=at)
        if not media.startswith("text/") and media not in ("application/json", "application/xml"):
            return ir.WebFetchResult(use_id, url, error_code="unsupported_content_type")
        text = body.decode("utf-8", "replace")
        if media == "text/html":
            text = html_text(text)
        if tool.max_content_tokens is None:
            text = text[:DEFAULT_FETCH_CHARS]
        else:
            text = cut_to_tokens(text, tool.max_content_tokens)
        return ir.WebFetchResult(use_id, url, text=text, retrieved_at=at)
