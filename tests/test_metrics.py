"""The request metrics as Prometheus scrapes them: the text a scrape gets, parsed back."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from switchboard import ir
from switchboard.catalog import Catalog
from switchboard.config import Config
from switchboard.metrics import Metrics
from switchboard.record import RequestRecord
from switchboard.routing import Router


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_counters_and_histograms_add_up_per_label_set() -> None:
    config = Config()
    metrics = Metrics(Router(Catalog(config), config.routing.health), lambda: (3, 1))

    def served(**more: Any) -> RequestRecord:
        record = RequestRecord(usage=ir.Usage(input_tokens=10, output_tokens=4), **more)
        record.serve("m", "up", "x", "up/x")
        return record

    metrics.observe(200, 0.2, served())
    metrics.observe(200, 0.05, served(ttft_ms=30.0, failovers=1))
    failed = RequestRecord(error_type="api_error")
    failed.serve("m", "up", "x", "up/x")
    metrics.observe(502, 7.0, failed)
    metrics.observe(401, 0.001, RequestRecord())
    got = scrape(metrics)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    ok_labels = {"model": "m", "channel": "up/x", "status": "200", "error_type": ""}
    assert value("switchboard_requests_total", **ok_labels) == 2
    bad = {**ok_labels, "status": "502", "error_type": "api_error"}
    assert value("switchboard_requests_total", **bad) == 1
    nobody = {"model": "none", "channel": "none", "status": "401", "error_type": ""}
    assert value("switchboard_requests_total", **nobody) == 1
    # Buckets are cumulative and `le` is inclusive: 0.05 falls in le="0.05".
    assert value("switchboard_request_duration_seconds_bucket", model="m", le="0.05") == 1
    assert value("switchboard_request_duration_seconds_bucket", model="m", le="0.25") == 2
    assert value("switchboard_request_duration_seconds_bucket", model="m", le="5.0") == 2
    assert value("switchboard_request_duration_seconds_bucket", model="m", le="+Inf") == 3
    assert value("switchboard_request_duration_seconds_count", model="m") == 3
    assert abs(value("switchboard_request_duration_seconds_sum", model="m") - 7.25) < 1e-9
    ttft = {"model": "m", "channel": "up/x"}
    assert value("switchboard_time_to_first_token_seconds_bucket", **ttft, le="0.025") == 0
    assert value("switchboard_time_to_first_token_seconds_bucket", **ttft, le="0.05") == 1
    assert value("switchboard_tokens_total", **ttft, kind="input") == 20
    assert value("switchboard_tokens_total", **ttft, kind="output") == 8
    assert value("switchboard_failovers_total", model="m") == 1
    assert value("switchboard_requests_in_flight") == 3
    assert value("switchboard_streams_in_flight") == 1
