"""The Message Batches API with the anthropic SDK (strict response validation: every object
must have the exact shape the SDK's types declare): create, retrieve, list, results, cancel,
delete; refusals naming the field and the request's index; batches scoped to their key; the
ledger rows of a batch's requests marked and billed at the discount."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.support.closing import opened
from tests.support.envelope import assert_envelope
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

from .conftest import MASTER, MODEL, PRICING, batch_request, gateway_config, wait_ended
from .upstream import SLOW_SECONDS, markers

pytestmark = pytest.mark.e2e

OTHER = "sk-batches-other"
MAX_REQUESTS = 20
MAX_BYTES = 64 * 1024
DISCOUNT = 0.5


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batches") / "switchboard.db"


@pytest.fixture(scope="module")
def gw(upstream: ScriptedUpstream, db: Path) -> Iterator[GatewayProcess]:
    config = gateway_config(
        f"sqlite:///{db}",
        upstream,
        max_requests=MAX_REQUESTS,
        max_bytes=MAX_BYTES,
        discount=DISCOUNT,
    )
    config["keys"] = [{"name": "other", "key": OTHER}]
    with GatewayProcess(config) as gateway:
        yield gateway


def client(gw: GatewayProcess, key: str = MASTER, prefix: str = "") -> anthropic.Anthropic:
    return opened(
        anthropic.Anthropic(
            base_url=gw.url + prefix, api_key=key, _strict_response_validation=True, max_retries=0
        )
    )


def test_create_retrieve_list_results_delete(
    gw: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    c = client(gw, prefix="/anthropic")
    created = c.messages.batches.create(
        requests=[
            batch_request("first", "lc-a"),
            batch_request("second", "lc-b"),
            batch_request("unknown-model", "lc-c", model="no-such-model"),
        ]
    )
    assert created.id.startswith("msgbatch_")
    assert created.processing_status == "in_progress"
    assert created.results_url is None
    counts = created.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (3, 0, 0)
    assert (created.expires_at - created.created_at).total_seconds() == 24 * 3600

    ended = wait_ended(c, created.id)
    assert ended.ended_at is not None
    assert ended.results_url is not None
    counts = ended.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (0, 2, 1)
    assert (counts.canceled, counts.expired) == (0, 0)

    results = {r.custom_id: r.result for r in c.messages.batches.results(created.id)}
    assert set(results) == {"first", "second", "unknown-model"}
    first = results["first"]
    assert first.type == "succeeded"
    assert first.message.content[0].type == "text"
    assert first.message.content[0].text == "re:lc-a"
    failed = results["unknown-model"]
    assert failed.type == "errored"
    assert failed.error.error.type == "not_found_error"
    seen = markers(upstream)
    assert (seen["lc-a"], seen["lc-b"], seen["lc-c"]) == (1, 1, 0)

    listed = c.messages.batches.list(limit=100)
    assert created.id in [b.id for b in listed.data]
    assert listed.first_id == listed.data[0].id

    assert c.messages.batches.delete(created.id).type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        c.messages.batches.retrieve(created.id)


def test_list_pages_newest_first(gw: GatewayProcess) -> None:
    c = client(gw)
    ids = [c.messages.batches.create(requests=[batch_request("r", f"pg-{i}")]).id for i in range(3)]
    page = c.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2]
    assert page.has_more is True
    assert page.last_id == ids[1]
    rest = c.messages.batches.list(limit=2, after_id=ids[1])
    assert ids[0] in [b.id for b in rest.data]
    back = c.messages.batches.list(limit=1, before_id=ids[1])
    assert [b.id for b in back.data] == [ids[2]]


def test_cancel_a_batch_in_progress(gw: GatewayProcess, upstream: ScriptedUpstream) -> None:
    c = client(gw)
    # Slow replies: the first `per_batch` run while the rest wait, and are canceled.
    created = c.messages.batches.create(
        requests=[batch_request(f"slow-{i}", f"slowcancel{i}") for i in range(10)]
    )
    with pytest.raises(anthropic.BadRequestError, match="still processing"):
        c.messages.batches.delete(created.id)
    canceling = c.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    ended = wait_ended(c, created.id, timeout=SLOW_SECONDS * 4)
    counts = ended.request_counts
    assert counts.canceled >= 1
    assert counts.succeeded + counts.canceled == 10
    results = list(c.messages.batches.results(created.id))
    assert sum(r.result.type == "canceled" for r in results) == counts.canceled
    ran = [m for m in markers(upstream) if m.startswith("slowcancel")]
    assert len(ran) == counts.succeeded  # a canceled request never reached the upstream
    c.messages.batches.delete(created.id)


def test_batches_are_their_keys(gw: GatewayProcess) -> None:
    mine = client(gw)
    theirs = client(gw, key=OTHER)
    created = mine.messages.batches.create(requests=[batch_request("r", "scoped")])
    wait_ended(mine, created.id)
    with pytest.raises(anthropic.NotFoundError):
        theirs.messages.batches.retrieve(created.id)
    with pytest.raises(anthropic.NotFoundError):
        theirs.messages.batches.cancel(created.id)
    with pytest.raises(anthropic.NotFoundError):
        theirs.messages.batches.delete(created.id)
    with pytest.raises(anthropic.NotFoundError):
        list(theirs.messages.batches.results(created.id))
    assert created.id not in [b.id for b in theirs.messages.batches.list(limit=100).data]
    assert mine.messages.batches.retrieve(created.id).id == created.id


@pytest.mark.parametrize(
    ("requests", "param"),
    [
        ([batch_request("same", "v1"), batch_request("same", "v2")], "requests.1.custom_id"),
        ([batch_request("bad id!", "v3")], "requests.0.custom_id"),
        (
            [batch_request("a", "v4"), {"custom_id": "b", "params": {"model": MODEL}}],
            "requests.1.params",
        ),
        (
            [{"custom_id": "a", "params": {"model": MODEL, "max_tokens": 5, "messages": 3}}],
            "requests.0.params.messages",
        ),
        (
            [
                {
                    **batch_request("s", "v5"),
                    "params": {**batch_request("s", "v5")["params"], "stream": True},
                }
            ],
            "requests.0.params.stream",
        ),
        ([batch_request(f"r{i}", f"v6-{i}") for i in range(MAX_REQUESTS + 1)], "requests"),
        ([], "requests"),
        ([{"custom_id": "x"}], "requests.0.params"),
    ],
)
def test_a_bad_batch_is_a_400_naming_the_field(
    gw: GatewayProcess, requests: list[dict[str, Any]], param: str
) -> None:
    reply = httpx.post(
        gw.url + "/v1/messages/batches",
        json={"requests": requests},
        headers={"x-api-key": MASTER, "anthropic-version": "2023-06-01"},
    )
    assert_envelope(reply, 400, "invalid_request_error")
    message = reply.json()["error"]["message"]
    assert message.startswith(param), message


def test_a_batch_over_max_bytes_is_a_413(gw: GatewayProcess) -> None:
    big = batch_request("big", "big")
    big["params"]["messages"] = [{"role": "user", "content": "x" * MAX_BYTES}]
    reply = httpx.post(
        gw.url + "/v1/messages/batches",
        json={"requests": [big]},
        headers={"x-api-key": MASTER, "anthropic-version": "2023-06-01"},
    )
    assert_envelope(reply, 413, "request_too_large", f"{MAX_BYTES}-byte limit")


def test_ledger_rows_are_marked_and_discounted(gw: GatewayProcess, db: Path) -> None:
    c = client(gw)
    created = c.messages.batches.create(
        requests=[batch_request("a", "ledger-a"), batch_request("b", "ledger-b")]
    )
    wait_ended(c, created.id)
    # The upstream reports 10 input and 2 output tokens for each.
    full = round(1000 * (PRICING["input"] * 10 + PRICING["output"] * 2))
    deadline = time.monotonic() + 10
    rows: list[tuple[int, int]] = []
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT cost_nusd, status FROM usage WHERE batch_id = ?", (created.id,)
            ).fetchall()
        if len(rows) == 2:
            break
        time.sleep(0.1)
    assert rows == [(round(full * (1 - DISCOUNT)), 200)] * 2
