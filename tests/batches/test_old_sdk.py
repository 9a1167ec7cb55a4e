"""The Message Batches API with the last 0.x anthropic SDK (it sends x-api-key and
2023-06-01), strict response validation on: create, retrieve, list, results, cancel, delete."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.conftest import OLD_SDK, sdk_python
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

from .conftest import MASTER, MODEL, gateway_config

pytestmark = pytest.mark.e2e

SCRIPT = r"""
import json, sys, time
import anthropic

url, key, model = sys.argv[1:4]
c = anthropic.Anthropic(base_url=url, api_key=key, _strict_response_validation=True, max_retries=0)

def ask(custom_id, marker, model=model):
    return {"custom_id": custom_id, "params": {"model": model, "max_tokens": 16,
            "messages": [{"role": "user", "content": "say m:" + marker}]}}

def ended(batch_id):
    for _ in range(400):
        b = c.messages.batches.retrieve(batch_id)
        if b.processing_status == "ended":
            return b
        time.sleep(0.05)
    raise SystemExit("batch did not end")

b = c.messages.batches.create(requests=[ask("one", "old-a"), ask("two", "old-b", "nope")])
done = ended(b.id)
results = {r.custom_id: r.result for r in c.messages.batches.results(b.id)}
slow = c.messages.batches.create(requests=[ask("s%d" % i, "slowold%d" % i) for i in range(8)])
canceling = c.messages.batches.cancel(slow.id)
canceled = ended(slow.id)
print(json.dumps({
    "created": b.processing_status,
    "counts": done.request_counts.model_dump(),
    "one": results["one"].message.content[0].text,
    "two": results["two"].error.error.type,
    "listed": b.id in [x.id for x in c.messages.batches.list(limit=100).data],
    "canceling": canceling.processing_status,
    "canceled": canceled.request_counts.canceled,
    "deleted": c.messages.batches.delete(b.id).type,
    "canceled_results": sorted({r.result.type for r in c.messages.batches.results(slow.id)}),
}))
"""


@pytest.fixture(scope="module")
def old_python() -> Path:
    return sdk_python(OLD_SDK, "anthropic-0x")


@pytest.fixture(scope="module")
def gw(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    db = tmp_path_factory.mktemp("old-sdk") / "switchboard.db"
    with GatewayProcess(gateway_config(f"sqlite:///{db}", upstream)) as gateway:
        yield gateway


def test_old_sdk_batches(old_python: Path, gw: GatewayProcess) -> None:
    done = subprocess.run(
        [str(old_python), "-c", SCRIPT, gw.url, MASTER, MODEL],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["created"] == "in_progress"
    assert seen["counts"] == {
        "processing": 0,
        "succeeded": 1,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    assert (seen["one"], seen["two"]) == ("re:old-a", "not_found_error")
    assert seen["listed"] is True
    assert seen["canceling"] == "canceling"
    assert seen["canceled"] >= 1
    assert seen["deleted"] == "message_batch_deleted"
    assert "canceled" in seen["canceled_results"]
