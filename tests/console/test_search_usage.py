"""The console's usage page shows the web searches the gateway ran and what they cost (part of
the cost column), in each grouping and in its CSV, and the request's page its searches, after
real requests through the gateway, one of which searched a loopback engine twice
(tests/servertools/searched.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from switchboard.storage import GROUPS
from tests.console.console_client import ConsoleClient
from tests.servertools.scripted import engine_fixture, upstream_fixture  # noqa: F401 - fixtures
from tests.servertools.searched import (
    MASTER,
    PLAIN_USD,
    SEARCH_USD,
    SEARCHING_USD,
    Searched,
    searched,
)
from tests.support.mock_upstream import ScriptedUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def done(
    engine: ScriptedUpstream, upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Searched]:
    with searched(engine, upstream, tmp_path_factory.mktemp("searchconsole")) as done:
        yield done


@pytest.fixture(scope="module")
def console(done: Searched) -> Iterator[ConsoleClient]:
    client = ConsoleClient(done.gateway.url)
    assert client.sign_in(MASTER).status_code == 303
    try:
        yield client
    finally:
        client.close()


@pytest.mark.parametrize("group", list(GROUPS))
def test_the_usage_page_shows_searches_and_their_cost(console: ConsoleClient, group: str) -> None:
    page = console.http.get("/console/usage", params={"group_by": group})
    assert page.status_code == 200
    html = page.text
    assert '<th scope="col" class="n">Searches</th>' in html
    # The one group's row: its cost, then its two searches and what they cost.
    total = SEARCHING_USD + PLAIN_USD
    assert f'<td class="n">${total:,.4f}</td><td class="n">2</td><td class="n">$0.0200</td>' in html
    assert '<dd id="total-searches">2 <small class="muted">$0.0200 of the cost</small>' in html
    (row,) = csv.DictReader(
        io.StringIO(console.http.get("/console/usage.csv", params={"group_by": group}).text)
    )
    assert (row["web_search_requests"], float(row["web_search_usd"])) == ("2", SEARCH_USD)


def test_the_rows_csv_has_each_requests_searches(console: ConsoleClient) -> None:
    rows = list(csv.DictReader(io.StringIO(console.http.get("/console/usage.csv").text)))
    assert sorted((r["web_search_requests"], float(r["web_search_usd"])) for r in rows) == [
        ("0", 0.0),
        ("2", SEARCH_USD),
    ]


def test_the_request_page_shows_its_searches(console: ConsoleClient, done: Searched) -> None:
    page = console.http.get(f"/console/requests/{done.request_id}").text
    assert '<dt>Web searches</dt><dd id="web-searches">2</dd>' in page
    assert "Web fetches" not in page  # none were made
