"""A batch's requests are requests like the online ones: each writes the access line an online
request writes (with the batch's id), and each goes where the config's `routes:` send the same
online request (rules on `thinking` and `has_tool`), in both dialects."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.support.closing import opened
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

from .conftest import (
    MASTER,
    MODEL,
    OPENAI_MODEL,
    PRICING,
    batch_request,
    gateway_config,
    wait_ended,
)
from .upstream import marker_of

pytestmark = pytest.mark.e2e

TOOL = "lookup_weather"
# (name, dialect's provider, upstream model): where each route sends its requests.
ROUTED = [
    ("claude-thinker", "ant", "up-ant-think"),
    ("claude-tooler", "ant", "up-ant-tool"),
    ("gpt-thinker", "oa", "up-oa-think"),
    ("gpt-tooler", "oa", "up-oa-tool"),
]
ROUTES = [
    {"to": "claude-thinker", "match": {"thinking": True, "endpoint": "anthropic"}},
    {"to": "gpt-thinker", "match": {"thinking": True, "endpoint": "openai"}},
    {"to": "claude-tooler", "match": {"has_tool": TOOL, "endpoint": "anthropic"}},
    {"to": "gpt-tooler", "match": {"has_tool": TOOL, "endpoint": "openai"}},
]


@pytest.fixture(scope="module")
def gw(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    db: Path = tmp_path_factory.mktemp("batch-requests") / "switchboard.db"
    config = gateway_config(f"sqlite:///{db}", upstream)
    config["models"] += [
        {
            "id": name,
            "channels": [{"provider": provider, "model": model}],
            "max_output_tokens": 8000,
            "pricing": PRICING,
        }
        for name, provider, model in ROUTED
    ]
    config["routes"] = ROUTES
    with GatewayProcess(config) as gateway:
        yield gateway


def anthropic_client(gw: GatewayProcess) -> anthropic.Anthropic:
    return opened(anthropic.Anthropic(base_url=gw.url, api_key=MASTER, max_retries=0))


def openai_client(gw: GatewayProcess) -> openai.OpenAI:
    return opened(openai.OpenAI(base_url=gw.url + "/v1", api_key=MASTER, max_retries=0))


def upstream_model(upstream: ScriptedUpstream, marker: str) -> str:
    """The model name the upstream was asked for by the one request carrying `marker`."""
    seen = [r for r in upstream.received if marker_of(r) == marker]
    assert len(seen) == 1, f"{marker} reached the upstream {len(seen)} times"
    body = seen[0].json
    assert isinstance(body, dict)
    model = body["model"]
    assert isinstance(model, str)
    return model


def access_lines(gw: GatewayProcess, want: int, **fields: object) -> list[dict[str, Any]]:
    """The gateway's access lines holding every one of `fields`, once `want` of them are
    written (the log is written off the request's path, a moment later)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(x) for x in gw.output().splitlines() if x.startswith('{"request_id"')]
        found = [x for x in lines if all(x.get(k) == v for k, v in fields.items())]
        if len(found) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def run_openai_batch(gw: GatewayProcess, bodies: dict[str, dict[str, Any]]) -> Any:
    c = openai_client(gw)
    content = "".join(
        json.dumps({"custom_id": k, "method": "POST", "url": "/v1/chat/completions", "body": b})
        + "\n"
        for k, b in bodies.items()
    ).encode()
    file_id = c.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch").id
    batch = c.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 20
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        assert time.monotonic() < deadline, f"batch {batch.id} did not finish"
        time.sleep(0.05)
        batch = c.batches.retrieve(batch.id)
    return batch


def test_message_batch_requests_write_access_lines(gw: GatewayProcess) -> None:
    c = anthropic_client(gw)
    batch = c.messages.batches.create(
        requests=[
            batch_request("ok", "log-ok"),
            batch_request("missing", "log-missing", model="no-such-model"),
        ]
    )
    wait_ended(c, batch.id)
    lines = access_lines(gw, 2, batch_id=batch.id)
    assert len(lines) == 2, lines
    ok, missing = sorted(lines, key=lambda x: x["status"])
    assert (ok["method"], ok["path"], ok["status"]) == ("POST", "/v1/messages", 200)
    assert (ok["key"], ok["model"], ok["stream"]) == ("master", MODEL, False)
    assert (ok["model_id"], ok["channel"]) == (MODEL, "ant/up-ant")
    assert (ok["input_tokens"], ok["output_tokens"]) == (10, 2)
    # Billed at the batch discount (0.5): 10 x $3 + 2 x $15 per million tokens, halved.
    assert ok["cost_nusd"] == 30_000
    assert ok["latency_ms"] >= 0
    assert (missing["status"], missing["model"]) == (404, "no-such-model")
    assert missing["error_type"] == "not_found_error"
    # The line of an online request has no batch id.
    raw = c.messages.with_raw_response.create(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "say m:log-online"}]
    )
    (online,) = access_lines(gw, 1, request_id=raw.headers["request-id"])
    assert online["path"] == "/v1/messages"
    assert "batch_id" not in online


def test_openai_batch_requests_write_access_lines(gw: GatewayProcess) -> None:
    body = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": "say m:log-oa"}]}
    batch = run_openai_batch(gw, {"one": body})
    assert batch.status == "completed"
    output = openai_client(gw).files.content(batch.output_file_id).text
    request_id = json.loads(output)["response"]["request_id"]
    lines = access_lines(gw, 1, batch_id=batch.id)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["request_id"] == request_id  # the id its result carries
    assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/chat/completions", 200)
    assert (line["model"], line["channel"]) == (OPENAI_MODEL, "oa/up-oa")


def test_message_batch_requests_follow_thinking_and_tool_routes(
    gw: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    thinking: dict[str, Any] = {"type": "enabled", "budget_tokens": 1024}
    tools: list[dict[str, Any]] = [
        {"name": TOOL, "description": "Weather", "input_schema": {"type": "object"}}
    ]

    def params(marker: str, **extra: Any) -> dict[str, Any]:
        return {
            "model": MODEL,
            "max_tokens": 2048,
            "messages": [{"role": "user", "content": f"say m:{marker}"}],
            **extra,
        }

    c = anthropic_client(gw)
    # The same requests online first: where the routes send them.
    c.messages.create(**params("rt-think-online", thinking=thinking))
    c.messages.create(**params("rt-tool-online", tools=tools))
    batch = c.messages.batches.create(
        requests=[
            {"custom_id": "think", "params": params("rt-think", thinking=thinking)},  # type: ignore[typeddict-item]
            {"custom_id": "tool", "params": params("rt-tool", tools=tools)},  # type: ignore[typeddict-item]
            {"custom_id": "plain", "params": params("rt-plain")},  # type: ignore[typeddict-item]
        ]
    )
    ended = wait_ended(c, batch.id)
    assert ended.request_counts.succeeded == 3
    assert upstream_model(upstream, "rt-think-online") == "up-ant-think"
    assert upstream_model(upstream, "rt-think") == "up-ant-think"
    assert upstream_model(upstream, "rt-tool-online") == "up-ant-tool"
    assert upstream_model(upstream, "rt-tool") == "up-ant-tool"
    assert upstream_model(upstream, "rt-plain") == "up-ant"


def test_openai_batch_requests_follow_thinking_and_tool_routes(
    gw: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    tools = [{"type": "function", "function": {"name": TOOL, "parameters": {"type": "object"}}}]

    def body(marker: str, **extra: Any) -> dict[str, Any]:
        messages = [{"role": "user", "content": f"say m:{marker}"}]
        return {"model": OPENAI_MODEL, "messages": messages, **extra}

    c = openai_client(gw)
    c.chat.completions.create(**body("oa-think-online", reasoning_effort="high"))
    c.chat.completions.create(**body("oa-tool-online", tools=tools))
    batch = run_openai_batch(
        gw,
        {
            "think": body("oa-think", reasoning_effort="high"),
            "tool": body("oa-tool", tools=tools),
            "plain": body("oa-plain"),
        },
    )
    assert batch.status == "completed"
    assert batch.request_counts.completed == 3
    assert upstream_model(upstream, "oa-think-online") == "up-oa-think"
    assert upstream_model(upstream, "oa-think") == "up-oa-think"
    assert upstream_model(upstream, "oa-tool-online") == "up-oa-tool"
    assert upstream_model(upstream, "oa-tool") == "up-oa-tool"
    assert upstream_model(upstream, "oa-plain") == "up-oa"
