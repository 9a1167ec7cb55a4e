"""What a translated stream drops after its head was sent (an unknown finish_reason or stop
reason, a delta type the translation does not carry) reaches the client as an SSE comment just
before the stream's end, and the request's log line and ledger row, with each SDK: the SDK
skips the comment and completes normally."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import openai

from tests.e2e.conftest import MASTER_KEY
from tests.support.anthropic_wire import anthropic_event, anthropic_stream_events
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_stream
from tests.support.replies import SSEReply

# delay: each upstream event is its own read, so the drop is noticed after the head was sent.
OPENAI_NOTE = "unknown finish_reason 'weird_reason' mapped to end_turn"
ANTHROPIC_NOTE = "citations_delta in a stream"


def admin(gw: GatewayProcess, method: str, path: str, body: Any = None) -> Any:
    resp = httpx.request(
        method, gw.url + path, json=body, headers={"x-api-key": MASTER_KEY}, timeout=10
    )
    assert resp.status_code < 300, resp.text
    return resp.json()


def ledger_rows(gw: GatewayProcess, key_id: str, count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(rows) < count:
        rows = admin(gw, "GET", f"/admin/usage?key={key_id}")["data"]
        time.sleep(0.1)
    assert len(rows) == count, rows
    return rows


def log_line(gw: GatewayProcess, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in gw.output().splitlines():
            if line.startswith("{") and f'"request_id":"{request_id}"' in line:
                found: dict[str, Any] = json.loads(line)
                return found
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id}")


def openai_upstream_stream() -> SSEReply:
    return openai_stream(["Hel", "lo"], finish_reason="weird_reason", delay=0.05)


def anthropic_upstream_stream() -> SSEReply:
    events = anthropic_stream_events(["Hel", "lo"])
    # A citations delta in the middle of the text block: the OpenAI dialect has no place for it.
    at = next(i for i, e in enumerate(events) if e.get("type") == "content_block_stop")
    citation = {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "x"}}
    events.insert(at, {"type": "content_block_delta", "index": 0, "delta": citation})
    return SSEReply([anthropic_event(e) for e in events], delay=0.05)


def test_anthropic_sdk_stream_reports_a_late_drop(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    made = admin(gateway, "POST", "/admin/keys", {"name": "late-drop-anthropic"})
    upstream.enqueue(openai_upstream_stream())
    with (
        anthropic.Anthropic(
            base_url=gateway.url + "/anthropic", api_key=made["key"], max_retries=0
        ) as client,
        client.messages.stream(
            model="moonshotai/kimi-k2-instruct",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
        ) as stream,
    ):
        request_id = stream.response.headers["request-id"]
        assert "switchboard-dropped" not in stream.response.headers  # not known yet
        message = stream.get_final_message()
    assert [b.text for b in message.content if b.type == "text"] == ["Hello"]
    assert message.stop_reason == "end_turn"

    # The raw stream: the comment comes just before message_stop.
    upstream.enqueue(openai_upstream_stream())
    body = {
        "model": "moonshotai/kimi-k2-instruct",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    raw = httpx.post(
        gateway.url + "/v1/messages", json=body, headers={"x-api-key": made["key"]}, timeout=10
    )
    assert raw.status_code == 200
    comment = f": switchboard-dropped {OPENAI_NOTE}\n\n"
    assert comment in raw.text
    assert raw.text.index(comment) < raw.text.index("event: message_stop")
    assert raw.text.index("event: message_delta") < raw.text.index(comment)

    line = log_line(gateway, request_id)
    assert line["dropped"] == [OPENAI_NOTE]
    assert line["status"] == 200
    assert "error_type" not in line
    for row in ledger_rows(gateway, made["id"], 2):
        assert row["dropped"] == OPENAI_NOTE
        assert row["status"] == 200
        assert row["error_type"] is None


def test_openai_sdk_stream_reports_a_late_drop(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    made = admin(gateway, "POST", "/admin/keys", {"name": "late-drop-openai"})
    upstream.enqueue(anthropic_upstream_stream())
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=made["key"], max_retries=0) as c:
        stream = c.chat.completions.create(
            model="test/passthrough",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        request_id = stream.response.headers["request-id"]
        chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "Hello"
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 2

    # The raw stream: the comment comes before the usage chunk and `data: [DONE]`.
    upstream.enqueue(anthropic_upstream_stream())
    body = {
        "model": "test/passthrough",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    raw = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {made['key']}"},
        timeout=10,
    )
    assert raw.status_code == 200
    comment = f": switchboard-dropped {ANTHROPIC_NOTE}\n\n"
    assert comment in raw.text
    assert raw.text.index(comment) < raw.text.index("data: [DONE]")
    assert raw.text.index('"finish_reason":"stop"') < raw.text.index(comment)

    line = log_line(gateway, request_id)
    assert line["dropped"] == [ANTHROPIC_NOTE]
    for row in ledger_rows(gateway, made["id"], 2):
        assert row["dropped"] == ANTHROPIC_NOTE
        assert row["status"] == 200
        assert row["error_type"] is None
