"""A gateway with a ledger and a loopback search engine, and the usage of two real requests
through it: one that ran two web searches, one that ran none. The usage report's tests (the CLI
here, the console in tests/console) read what they wrote."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anthropic

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

MASTER = "sk-sb-master-searched-0123456789"
KEY = "sk-searched-client-key-1"
MODEL = "open-model"
PRICE_PER_1000 = 10.0  # USD per 1,000 searches: one search is $0.01
# Each model call is 11 input and 3 output tokens (the scripted model's), at $1 and $2 per
# million; the searching request makes two calls and two searches.
SEARCH_USD = 2 * PRICE_PER_1000 / 1000
SEARCHING_USD = (22 * 1.0 + 6 * 2.0) / 1e6 + SEARCH_USD
PLAIN_USD = (11 * 1.0 + 3 * 2.0) / 1e6


@dataclass(frozen=True)
class Searched:
    gateway: GatewayProcess
    config: Path  # what the CLI reads
    request_id: str  # the request that searched


@contextmanager
def searched(engine: ScriptedUpstream, upstream: ScriptedUpstream, tmp: Path) -> Iterator[Searched]:
    database = tmp / "ledger.db"
    config = {
        "master_key": MASTER,
        "database": f"sqlite:///{database}",
        "keys": [{"name": "ci", "key": KEY}],
        "search": {
            "backend": "searxng",
            "url": engine.base_url + "/searxng",
            "price_per_1000": PRICE_PER_1000,
        },
        "providers": [{"name": "up", "kind": "openai", "base_url": upstream.openai_base}],
        "models": [
            {
                "id": MODEL,
                "pricing": {"input": 1.0, "output": 2.0},
                "channels": [{"provider": "up", "model": "m"}],
            }
        ],
    }
    with GatewayProcess(config, cwd=tmp) as gw:
        assert gw.config_path is not None
        with anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0) as sdk:
            raw = sdk.messages.with_raw_response.create(
                model=MODEL,
                max_tokens=200,
                messages=[{"role": "user", "content": "search twice for switchboard"}],
                tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
            )
            message = raw.parse()
            assert message.usage.server_tool_use is not None
            assert message.usage.server_tool_use.web_search_requests == 2
            plain = sdk.messages.create(
                model=MODEL, max_tokens=200, messages=[{"role": "user", "content": "hello"}]
            )
            assert plain.usage.server_tool_use is None
        assert [r.path for r in engine.received][-2:] == ["/searxng/search"] * 2
        _wait_for_rows(database, 2)
        yield Searched(gw, gw.config_path, raw.headers["request-id"])


def _wait_for_rows(database: Path, count: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if database.exists():
            with sqlite3.connect(database) as db:
                if db.execute("SELECT count(*) FROM usage").fetchone()[0] >= count:
                    return
        time.sleep(0.1)
    raise AssertionError(f"the ledger did not get {count} rows")
