"""What the pipeline does for every surface holds for the Responses one: the usage ledger row
of a database key, its budget, the loss report, and a stream that fails after its first byte
ending in `response.failed`."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream, openai_completion
from tests.support.recording import Recorder
from tests.support.replies import SSEReply
from tests.support.sse import format_sse

from .conftest import MASTER_KEY, make_client

pytestmark = pytest.mark.e2e


def admin(gw: GatewayProcess, method: str, path: str, body: Any = None) -> Any:
    resp = httpx.request(
        method, gw.url + path, json=body, headers={"x-api-key": MASTER_KEY}, timeout=10
    )
    assert resp.status_code < 300, resp.text
    return resp.json()


def test_ledger_row_and_budget(
    gateway: GatewayProcess, upstream: ScriptedUpstream, recorder: Recorder
) -> None:
    made = admin(gateway, "POST", "/admin/keys", {"name": "resp-ledger"})
    client = make_client(gateway, made["key"], recorder)
    upstream.enqueue(openai_completion("ok", usage=(30, 7)))
    resp = client.responses.create(model="gpt-test", input="hi")
    assert resp.usage is not None
    assert resp.usage.input_tokens == 30
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not rows:
        rows = admin(gateway, "GET", f"/admin/usage?key={made['id']}")["data"]
        time.sleep(0.1)
    (row,) = rows
    assert row["model"] == "gpt-test"
    assert row["input_tokens"] == 30
    assert row["output_tokens"] == 7
    assert row["status"] == 200
    # A key with a budget is refused on an unpriced model before any upstream call (as on the
    # other surfaces), in the OpenAI envelope.
    broke = admin(gateway, "POST", "/admin/keys", {"name": "resp-budget", "budget_usd": 0.01})
    upstream.reset()
    with pytest.raises(openai.APIStatusError) as caught:
        make_client(gateway, broke["key"], recorder).responses.create(model="gpt-test", input="hi")
    assert caught.value.status_code == 402
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"]
    assert upstream.received == []


def test_loss_report_names_what_is_not_carried(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_completion("ok"))
    raw = client.responses.with_raw_response.create(
        model="gpt-test",
        input="hi",
        tools=[{"type": "function", "name": "f", "parameters": {}, "strict": True}],
        extra_body={"prompt": {"id": "pmpt_1"}},
    )
    dropped = raw.headers["switchboard-dropped"]
    assert "prompt" in dropped
    assert "tools.strict" in dropped


def test_a_stream_that_breaks_ends_in_response_failed(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-gpt",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
    }
    broken = {"error": {"message": "upstream fell over", "type": "server_error", "code": 500}}
    # delay: the error is its own read, after the first bytes reached the client.
    upstream.enqueue(SSEReply([format_sse(chunk), format_sse(broken)], delay=0.2))
    kinds: list[str] = []
    failed: Any = None
    with client.responses.stream(model="gpt-test", input="hi") as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.failed":
                failed = event.response
    assert kinds[0] == "response.created"
    assert "response.output_text.delta" in kinds
    assert kinds[-1] == "response.failed"
    assert failed.status == "failed"
    assert failed.error is not None
    assert "upstream fell over" in json.dumps(failed.error.model_dump())
