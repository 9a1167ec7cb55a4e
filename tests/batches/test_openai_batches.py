"""The OpenAI Batch API with the openai SDK: a JSONL file uploaded with files.create, a batch
made of it, retrieved until it completes, its output and error files read with files.content;
the list, cancel, scoping to the key, and refusals in OpenAI's envelope."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.closing import opened
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

from .conftest import MASTER, OPENAI_MODEL, gateway_config
from .upstream import SLOW_SECONDS, markers

pytestmark = pytest.mark.e2e

OTHER = "sk-openai-batches-other"


@pytest.fixture(scope="module")
def gw(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    db = tmp_path_factory.mktemp("openai-batches") / "switchboard.db"
    config = gateway_config(f"sqlite:///{db}", upstream)
    config["keys"] = [{"name": "other", "key": OTHER}]
    with GatewayProcess(config) as gateway:
        yield gateway


def client(gw: GatewayProcess, key: str = MASTER) -> openai.OpenAI:
    return opened(
        openai.OpenAI(
            base_url=gw.url + "/v1", api_key=key, max_retries=0, _strict_response_validation=True
        )
    )


def line(custom_id: str, marker: str, model: str = OPENAI_MODEL) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"say m:{marker}"}]},
    }


def upload(c: openai.OpenAI, lines: list[dict[str, Any]]) -> str:
    content = "".join(json.dumps(x) + "\n" for x in lines).encode()
    made = c.files.create(file=("input.jsonl", io.BytesIO(content)), purpose="batch")
    assert (made.purpose, made.bytes, made.filename) == ("batch", len(content), "input.jsonl")
    return made.id


def wait_done(c: openai.OpenAI, batch_id: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = c.batches.retrieve(batch_id)
        if batch.status in ("completed", "expired", "cancelled", "failed"):
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not finish in {timeout} s")


def test_files_and_batch_to_output(gw: GatewayProcess, upstream: ScriptedUpstream) -> None:
    c = client(gw)
    file_id = upload(c, [line("a", "oa-a"), line("b", "oa-b"), line("c", "oa-c", "no-model")])
    assert c.files.retrieve(file_id).id == file_id
    created = c.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "eval"},
    )
    assert created.status == "in_progress"
    assert created.request_counts is not None
    assert created.request_counts.total == 3
    assert created.metadata == {"job": "eval"}
    done = wait_done(c, created.id)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    assert done.output_file_id
    assert done.error_file_id

    output = [json.loads(x) for x in c.files.content(done.output_file_id).text.splitlines()]
    by_id = {x["custom_id"]: x for x in output}
    assert set(by_id) == {"a", "b"}
    reply = by_id["a"]["response"]
    assert reply["status_code"] == 200
    assert by_id["a"]["error"] is None
    assert reply["body"]["choices"][0]["message"]["content"] == "re:oa-a"
    errors = [json.loads(x) for x in c.files.content(done.error_file_id).text.splitlines()]
    assert [e["custom_id"] for e in errors] == ["c"]
    assert errors[0]["response"]["status_code"] == 404
    assert errors[0]["response"]["body"]["error"]["code"] == "model_not_found"
    assert c.files.retrieve(done.output_file_id).purpose == "batch_output"
    seen = markers(upstream)
    assert (seen["oa-a"], seen["oa-b"], seen["oa-c"]) == (1, 1, 0)
    assert created.id in [b.id for b in c.batches.list(limit=100).data]


def test_cancel(gw: GatewayProcess, upstream: ScriptedUpstream) -> None:
    c = client(gw)
    file_id = upload(c, [line(f"s{i}", f"slowoa{i}") for i in range(10)])
    created = c.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert c.batches.cancel(created.id).status == "cancelling"
    done = wait_done(c, created.id, timeout=SLOW_SECONDS * 4)
    assert done.status == "cancelled"
    assert done.request_counts is not None
    assert done.error_file_id
    errors = [json.loads(x) for x in c.files.content(done.error_file_id).text.splitlines()]
    cancelled = [e for e in errors if e["error"] and e["error"]["code"] == "batch_cancelled"]
    assert len(cancelled) == done.request_counts.failed >= 1
    ran = [m for m in markers(upstream) if m.startswith("slowoa")]
    assert len(ran) == done.request_counts.completed


def test_files_and_batches_are_their_keys(gw: GatewayProcess) -> None:
    mine, theirs = client(gw), client(gw, OTHER)
    file_id = upload(mine, [line("a", "scoped-oa")])
    with pytest.raises(openai.NotFoundError):
        theirs.files.retrieve(file_id)
    with pytest.raises(openai.NotFoundError):
        theirs.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    created = mine.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    with pytest.raises(openai.NotFoundError):
        theirs.batches.retrieve(created.id)
    assert created.id not in [b.id for b in theirs.batches.list().data]


@pytest.mark.parametrize(
    ("lines", "param", "phrase"),
    [
        ([line("a", "x1"), line("a", "x2")], "input_file_id", "line 2: custom_id 'a'"),
        ([{**line("a", "x3"), "url": "/v1/embeddings"}], "input_file_id", "line 1: url"),
        (
            [line("a", "x4"), {**line("b", "x5"), "body": {"model": OPENAI_MODEL}}],
            "input_file_id.1.body.messages",
            "messages",
        ),
    ],
)
def test_a_bad_input_file_is_a_400(
    gw: GatewayProcess, lines: list[dict[str, Any]], param: str, phrase: str
) -> None:
    c = client(gw)
    file_id = upload(c, lines)
    with pytest.raises(openai.BadRequestError) as refused:
        c.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["param"] == param
    assert phrase in error["message"]
    assert refused.value.request_id is not None or refused.value.response.headers.get("request-id")


def test_upload_refusals(gw: GatewayProcess) -> None:
    auth = {"authorization": f"Bearer {MASTER}"}
    wrong = httpx.post(
        gw.url + "/v1/files",
        headers=auth,
        files={"file": ("a.jsonl", b"{}\n")},
        data={"purpose": "fine-tune"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["param"] == "purpose"
    not_form = httpx.post(gw.url + "/v1/files", headers=auth, json={"purpose": "batch"})
    assert not_form.status_code == 400
    assert "multipart" in not_form.json()["error"]["message"]
    missing = httpx.get(gw.url + "/v1/batches/batch_nope", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
