"""The optional features' settings: document fetches, web search, stored responses, batches;
and the checks of these and of telemetry and capture (whose records live with their code)."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from switchboard.capture import CaptureConfig
from switchboard.config.base import Strict
from switchboard.config.errors import Problems
from switchboard.tracing import TelemetryConfig


class Documents(Strict, frozen=True):
    """Fetching `url` document sources for upstreams that cannot fetch them. Off by default;
    when on, only public addresses are fetched, on every redirect hop (upstreams/urlguard.py;
    `allow_private_addresses` lifts that, for tests); a document over `max_bytes` is refused,
    and `timeout` bounds the whole fetch."""

    fetch_urls: bool = False
    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 15.0
    allow_private_addresses: bool = False


class Search(Strict, frozen=True):
    """The search engine behind the `web_search` server tool on models that have none
    (servertools/). `backend`: searxng (its JSON API at `url`), brave, tavily or exa (an
    `api_key`; `url` defaults to the vendor's). Off unless configured: a `web_search` tool on
    a translated request is then refused. `price_per_1000`: USD per 1,000 searches, charged to
    the key like tokens (Anthropic charges $10). `max_uses`: the most server tool calls
    (searches and fetches) one request may make, whatever its tools' own `max_uses` say."""

    backend: Literal["searxng", "brave", "tavily", "exa"]
    url: str | None = None
    api_key: str | None = None
    max_results: int = 5
    timeout: float = 10.0
    price_per_1000: float = 10.0
    max_uses: int = 10


class Responses(Strict, frozen=True):
    """The Responses API surface (docs/responses.md). `store`: responses are kept in the
    database for `previous_response_id` and `GET`/`DELETE /v1/responses/{id}`, scoped to the
    key that made them, for `retention_days`; off, those requests are refused."""

    store: bool = False
    retention_days: Annotated[float, msgspec.Meta(gt=0, le=3650)] = 30.0


class Batches(Strict, frozen=True):
    """The Message Batches and OpenAI Batch APIs (docs/batches.md). Batch requests are billed
    at `discount` off their model's price. Each gateway process runs at most `concurrency`
    batch requests at once, `per_batch` of one batch and `per_upstream` on one provider. A
    worker holds a request for `lease_seconds` (renewed while it runs), so a request of a
    process that died is taken up by another after that long. `poll_seconds`: how often a
    worker looks for work (tests set it low). A batch expires `expiry_hours` after it was
    created: what has not run by then is `expired`."""

    discount: float = 0.5
    max_requests: int = 100_000
    max_bytes: int = 256 * 1024 * 1024  # a create body, and an uploaded input file
    concurrency: int = 16
    per_batch: int = 4
    per_upstream: int = 8
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    expiry_hours: float = 24.0


def check_search(search: Search, problems: Problems) -> None:
    if search.url is not None and not re.match(r"^https?://", search.url):
        problems.add("search.url", "must be an http:// or https:// URL")
    if search.backend == "searxng" and search.url is None:
        problems.add("search.url", "searxng needs the URL of its instance")
    if search.backend != "searxng" and not search.api_key:
        problems.add("search.api_key", f"{search.backend} needs an API key")
    for name in ("max_results", "max_uses"):
        if not 1 <= getattr(search, name) <= 100:
            problems.add(f"search.{name}", "must be from 1 to 100")
    if search.timeout <= 0:
        problems.add("search.timeout", "must be more than 0")
    if search.price_per_1000 < 0:
        problems.add("search.price_per_1000", "must not be negative")


def check_telemetry(t: TelemetryConfig, problems: Problems) -> None:
    if not 0 <= t.sample_ratio <= 1:
        problems.add("telemetry.sample_ratio", "must be in [0, 1]")
    if t.export_interval <= 0:
        problems.add("telemetry.export_interval", "must be more than 0 seconds")
    if t.enabled:
        parts = urlsplit(t.otlp_endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.add("telemetry.otlp_endpoint", "must be an http:// or https:// URL")


def check_capture(c: CaptureConfig, problems: Problems) -> None:
    if not 0 <= c.sample_ratio <= 1:
        problems.add("capture.sample_ratio", "must be in [0, 1]")
    if c.retention_days <= 0:
        problems.add("capture.retention_days", "must be more than 0")
    if c.max_bytes < 1:
        problems.add("capture.max_bytes", "must be at least 1")
    for i, pattern in enumerate(c.redact):
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.add(f"capture.redact[{i}]", f"not a regular expression: {exc}")


def check_batches(b: Batches, problems: Problems) -> None:
    if not 0 <= b.discount < 1:
        problems.add("batches.discount", "must be in [0, 1) (the fraction taken off the price)")
    for name in ("max_requests", "max_bytes", "concurrency", "per_batch", "per_upstream"):
        if getattr(b, name) < 1:
            problems.add(f"batches.{name}", "must be at least 1")
    for name in ("lease_seconds", "poll_seconds", "expiry_hours"):
        if not getattr(b, name) > 0:
            problems.add(f"batches.{name}", "must be positive")
    if b.lease_seconds < 3 * b.poll_seconds:
        problems.add("batches.lease_seconds", "must be at least 3 times poll_seconds")
