"""The Grafana dashboard reads only metrics the gateway exports: every metric name in every
panel's PromQL is found in a real /metrics scrape of a running gateway that served requests,
a failover, a retry and a stream; every exported metric has a panel and a line in
docs/operations.md."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.promql import metric_names
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import (
    ScriptedUpstream,
    openai_completion,
    openai_error,
    openai_stream,
)

OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "switchboard-dashboard.json"
MASTER = "sk-dashboard-test-master"

pytestmark = pytest.mark.e2e


def dashboard_queries() -> list[tuple[str, str]]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"]) for panel in data["panels"] for target in panel["targets"]
    ]


def test_promql_names_are_found_and_functions_are_not() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{a!~"2.."}[5m]))) '
        "/ ignoring (b) sum without (c) (y_total offset 1h) and on (d) z"
    )
    assert metric_names(expr) == {"x_bucket", "y_total", "z"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


def post(base: str, body: dict[str, Any]) -> bytes:
    req = urllib.request.Request(
        base + "/anthropic/v1/messages",
        data=json.dumps(body).encode(),
        headers={
            "x-api-key": MASTER,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert resp.status == 200
        data: bytes = resp.read()
        return data


def scrape_names(base: str) -> set[str]:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def test_every_dashboard_query_reads_metrics_a_running_gateway_exports(
    upstream: ScriptedUpstream,
) -> None:
    provider = {"kind": "openai", "base_url": upstream.openai_base, "api_key": "sk-up"}
    config = {
        "master_key": MASTER,
        "routing": {"backoff_seconds": 0.05, "max_backoff_seconds": 0.1},
        "providers": [{"name": "first", **provider}, {"name": "second", **provider}],
        "models": [
            {
                "id": "failover-model",
                "pricing": {},
                "channels": [
                    {"provider": "first", "model": "up-a"},
                    {"provider": "second", "model": "up-b", "priority": 1},
                ],
            },
            {
                "id": "retry-model",
                "pricing": {},
                "channels": [{"provider": "first", "model": "up-c"}],
            },
        ],
    }
    message = {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    with GatewayProcess(config) as gw:
        upstream.enqueue(openai_error(500, "down", type_="server_error"), openai_completion("a"))
        post(gw.url, {"model": "failover-model", **message})
        upstream.enqueue(openai_error(503, "busy", type_="server_error"), openai_completion("b"))
        post(gw.url, {"model": "retry-model", **message})
        upstream.enqueue(openai_stream(["c", "d"]))
        assert b"message_stop" in post(gw.url, {"model": "retry-model", "stream": True, **message})
        exported = scrape_names(gw.url)

    queries = dashboard_queries()
    assert len(queries) >= 16
    missing = {
        f"{title}: {name}"
        for title, expr in queries
        for name in metric_names(expr)
        if name not in exported
    }
    assert not missing, f"dashboard queries read metrics the gateway does not export: {missing}"
    for title, expr in queries:
        assert metric_names(expr), f"{title}: no metric in {expr!r}"
    # Every family the gateway exports has a panel (the ledger's and the channels' included).
    read = {name for _, expr in queries for name in metric_names(expr)}
    families = {n.removesuffix("_bucket") for n in read if n.endswith("_bucket")}
    unread = {
        n
        for n in exported
        if n not in read
        and n.removesuffix("_sum").removesuffix("_count") not in families | read_bases(read)
    }
    assert not unread, f"exported metrics with no panel: {unread}"
    # And docs/operations.md says what each one means.
    table = OPERATIONS.read_text()
    undocumented = {
        n
        for n in exported
        if f"`{n}`" not in table and f"`{re.sub(r'_(bucket|sum|count)$', '', n)}`" not in table
    }
    assert not undocumented, f"metrics missing from docs/operations.md: {undocumented}"


def read_bases(read: set[str]) -> set[str]:
    return {n.removesuffix("_sum").removesuffix("_count") for n in read}
