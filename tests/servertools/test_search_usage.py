"""`switchboard usage` shows the web searches the gateway ran, and what they cost, in every
form: the rows, each grouping, as a table, JSON and CSV. The ledger rows are written by real
requests through the gateway, one of which searched a loopback engine twice (searched.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from switchboard.storage import GROUPS
from tests.servertools.scripted import engine_fixture, upstream_fixture  # noqa: F401 - fixtures
from tests.servertools.searched import (
    MODEL,
    PLAIN_USD,
    SEARCH_USD,
    SEARCHING_USD,
    Searched,
    searched,
)
from tests.support.mock_upstream import ScriptedUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ledger(
    engine: ScriptedUpstream, upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Searched]:
    with searched(engine, upstream, tmp_path_factory.mktemp("searchusage")) as done:
        yield done


def usage(ledger: Searched, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "switchboard", "usage", *args, "--config", str(ledger.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_each_row_counts_its_searches_and_their_cost(ledger: Searched) -> None:
    rows = {r["request_id"]: r for r in json.loads(usage(ledger, "--json"))}
    assert len(rows) == 2
    row = rows.pop(ledger.request_id)
    assert row["web_search_requests"] == 2
    assert row["web_search_usd"] == pytest.approx(SEARCH_USD, abs=1e-12)
    assert row["cost_usd"] == pytest.approx(SEARCHING_USD, abs=1e-12)  # the searches included
    (plain,) = rows.values()
    assert (plain["web_search_requests"], plain["web_search_usd"]) == (0, 0)
    # The table: SEARCHES and SEARCH USD after COST USD, then the latency.
    lines = usage(ledger).splitlines()
    header = lines[0].split()
    assert header[-6:] == ["COST", "USD", "SEARCHES", "SEARCH", "USD", "MS"]
    table = [line.split() for line in lines[2:]]  # under the header's rule
    assert sorted(cells[-4:-1] for cells in table) == sorted(
        [[f"{SEARCHING_USD:.6f}", "2", f"{SEARCH_USD:.6f}"], [f"{PLAIN_USD:.6f}", "0", "0.000000"]]
    )


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_grouping_totals_the_searches_and_their_cost(ledger: Searched, group: str) -> None:
    (total,) = json.loads(usage(ledger, "--group-by", group, "--json"))
    assert total["requests"] == 2
    assert total["web_search_requests"] == 2
    assert total["web_search_usd"] == pytest.approx(SEARCH_USD, abs=1e-12)
    assert total["cost_usd"] == pytest.approx(SEARCHING_USD + PLAIN_USD, abs=1e-12)
    lines = usage(ledger, "--group-by", group).splitlines()
    assert "SEARCHES" in lines[0]
    assert "SEARCH USD" in lines[0]
    (cells,) = (line.split() for line in lines[2:])
    # ... COST USD, SEARCHES, SEARCH USD, ERRORS
    assert cells[-4:] == [f"{SEARCHING_USD + PLAIN_USD:.6f}", "2", f"{SEARCH_USD:.6f}", "0"]
    (parsed,) = csv.DictReader(io.StringIO(usage(ledger, "--group-by", group, "--csv")))
    assert (parsed["web_search_requests"], float(parsed["web_search_usd"])) == ("2", SEARCH_USD)
    if group == "model":
        assert total["model"] == MODEL
