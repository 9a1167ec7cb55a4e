"""`GET /metrics`: Prometheus text format. Open like `/health`, as scrapers expect; it carries
counts and channel names, never keys or request content."""

from __future__ import annotations

from switchboard.api.exchange import Exchange
from switchboard.metrics import CONTENT_TYPE, Metrics


class MetricsHandler:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, ex: Exchange) -> None:
        await ex.respond(200, self._metrics.render(), content_type=CONTENT_TYPE)
