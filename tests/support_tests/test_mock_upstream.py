"""ScriptedUpstream over real loopback HTTP: routes, defaults, recording, reply kinds."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest

from tests.support.mock_upstream import (
    DropReply,
    HangReply,
    JsonReply,
    Received,
    Reply,
    ScriptedUpstream,
    SSEReply,
)
from tests.support.sse import parse_sse
from tests.support.stream_validator import accumulate_message

from .http_client import request


def test_binds_loopback_only(upstream: ScriptedUpstream) -> None:
    assert upstream.base_url.startswith("http://127.0.0.1:")
    assert upstream.openai_base == upstream.base_url + "/v1"
    assert upstream.anthropic_base == upstream.base_url


def test_default_openai_completion_echoes_model(upstream: ScriptedUpstream) -> None:
    resp = request("POST", upstream.openai_base + "/chat/completions", {"model": "m1"})
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "m1"
    assert body["choices"][0]["message"]["content"] == "ok"


def test_default_openai_stream(upstream: ScriptedUpstream) -> None:
    url = upstream.openai_base + "/chat/completions"
    resp = request("POST", url, {"model": "m1", "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(resp.body)
    assert events[-1].data == "[DONE]"
    chunks = [json.loads(e.data) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "ok"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 14


def test_default_anthropic_message_and_stream(upstream: ScriptedUpstream) -> None:
    url = upstream.anthropic_base + "/v1/messages"
    msg = request("POST", url, {"model": "claude-x", "max_tokens": 5}).json()
    assert msg["model"] == "claude-x"
    assert msg["content"] == [{"type": "text", "text": "ok"}]
    assert msg["usage"]["input_tokens"] == 10
    assert msg["usage"]["output_tokens"] == 2

    raw = request("POST", url, {"model": "claude-x", "stream": True}).body
    final = accumulate_message(parse_sse(raw))
    assert final["model"] == "claude-x"
    assert final["content"] == [{"type": "text", "text": "ok"}]
    assert final["usage"]["output_tokens"] == 2


def test_default_count_tokens_models_and_unknown_route(upstream: ScriptedUpstream) -> None:
    count = request("POST", upstream.base_url + "/v1/messages/count_tokens", {"model": "m"})
    assert count.json() == {"input_tokens": 42}
    models = request("GET", upstream.openai_base + "/models").json()
    assert [m["id"] for m in models["data"]] == ["upstream-model", "claude-upstream"]
    assert request("GET", upstream.base_url + "/nope").status == 404
    assert [r.path for r in upstream.received] == [
        "/v1/messages/count_tokens",
        "/v1/models",
        "/nope",
    ]


def test_records_request_details(upstream: ScriptedUpstream) -> None:
    request(
        "POST",
        upstream.openai_base + "/chat/completions?api-version=1&x=y",
        {"model": "m", "messages": []},
        headers={"Authorization": "Bearer sk-test", "X-Custom": "v"},
    )
    request("POST", upstream.base_url + "/v1/messages", b"{not json")
    first, second = upstream.received
    assert first.method == "POST"
    assert first.path == "/v1/chat/completions"
    assert first.query == "api-version=1&x=y"
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-custom"] == "v"
    assert first.json == {"model": "m", "messages": []}
    assert second.body == b"{not json"
    assert second.json is None


def test_json_reply_status_headers_and_raw_bodies(upstream: ScriptedUpstream) -> None:
    upstream.enqueue(
        JsonReply({"a": 1}, status=201, headers={"X-Request-Id": "req_1"}),
        JsonReply(b"<html>bad gateway</html>", status=502, content_type="text/html"),
        JsonReply("not json", headers={"content-type": "text/plain; charset=utf-8"}),
    )
    first = request("POST", upstream.base_url + "/v1/messages", {})
    assert (first.status, first.json(), first.headers["x-request-id"]) == (201, {"a": 1}, "req_1")
    second = request("GET", upstream.openai_base + "/models")
    assert second.status == 502
    assert second.headers["content-type"].startswith("text/html")
    assert second.body == b"<html>bad gateway</html>"
    third = request("POST", upstream.openai_base + "/chat/completions", {})
    assert third.headers["content-type"] == "text/plain; charset=utf-8"
    assert third.body == b"not json"


def test_queue_is_fifo_across_routes_and_reset_clears(upstream: ScriptedUpstream) -> None:
    upstream.enqueue(JsonReply({"n": 1}), JsonReply({"n": 2}), JsonReply({"n": 3}))
    assert request("GET", upstream.openai_base + "/models").json() == {"n": 1}
    assert request("POST", upstream.base_url + "/v1/messages", {}).json() == {"n": 2}
    assert upstream.pending == 1
    upstream.reset()
    assert upstream.pending == 0
    assert upstream.received == []
    assert request("POST", upstream.base_url + "/v1/messages", {}).json()["type"] == "message"


def test_concurrent_requests_each_get_one_reply(upstream: ScriptedUpstream) -> None:
    count = 40
    upstream.enqueue(*(JsonReply({"n": i}) for i in range(count)))
    url = upstream.openai_base + "/chat/completions"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: request("POST", url, {"i": i}).json()["n"], range(count)))
    assert sorted(results) == list(range(count))
    assert len(upstream.received) == count


def test_sse_reply_writes_frames_with_delay(upstream: ScriptedUpstream) -> None:
    frames: list[str | bytes] = ["data: 1\n\n", b"data: 2\n\n", "event: x\ndata: 3\n\n"]
    upstream.enqueue(SSEReply(frames, delay=0.1, headers={"X-A": "b"}))
    started = time.monotonic()
    resp = request("POST", upstream.openai_base + "/chat/completions", {})
    assert time.monotonic() - started >= 0.2
    assert resp.headers["x-a"] == "b"
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.body == b"data: 1\n\ndata: 2\n\nevent: x\ndata: 3\n\n"
    assert not upstream.received[0].client_closed.is_set()


def _read_then_close(url: str, frames_wanted: int) -> list[bytes]:
    async def run() -> list[bytes]:
        async with aiohttp.ClientSession() as session:
            resp = await session.post(url, json={"stream": True})
            got = [await resp.content.readuntil(b"\n\n") for _ in range(frames_wanted)]
            resp.close()  # drop the connection mid-stream, as a client timing out would
            return got

    return asyncio.run(run())


def test_hang_after_holds_stream_until_client_closes(upstream: ScriptedUpstream) -> None:
    upstream.enqueue(SSEReply(["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"], hang_after=2))
    got = _read_then_close(upstream.openai_base + "/chat/completions", 2)
    assert got == [b"data: 1\n\n", b"data: 2\n\n"]
    assert upstream.wait_closed(timeout=2.0)
    assert upstream.received[0].client_closed.is_set()
    # The server is still healthy afterwards.
    assert request("GET", upstream.openai_base + "/models").status == 200


def test_client_close_during_delay_is_seen(upstream: ScriptedUpstream) -> None:
    upstream.enqueue(SSEReply([f"data: {i}\n\n" for i in range(50)], delay=0.05))
    _read_then_close(upstream.base_url + "/v1/messages", 1)
    assert upstream.wait_closed(timeout=2.0)


def test_wait_closed_is_false_when_nothing_closed(upstream: ScriptedUpstream) -> None:
    assert upstream.wait_closed(timeout=0.05) is False
    request("GET", upstream.openai_base + "/models")
    assert upstream.wait_closed(timeout=0.05) is False


def test_drop_reply_closes_without_response(upstream: ScriptedUpstream) -> None:
    upstream.enqueue(DropReply(), DropReply())
    with pytest.raises(http.client.RemoteDisconnected):
        request("POST", upstream.openai_base + "/chat/completions", {})

    async def via_aiohttp() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(upstream.base_url + "/v1/messages", json={}) as resp,
        ):
            await resp.read()

    with pytest.raises(aiohttp.ServerDisconnectedError):
        asyncio.run(via_aiohttp())
    assert len(upstream.received) == 2


def test_hang_reply_times_out_client_then_serves_default(upstream: ScriptedUpstream) -> None:
    upstream.enqueue(HangReply(30))
    with pytest.raises(TimeoutError):
        request("POST", upstream.openai_base + "/chat/completions", {}, timeout=0.2)
    assert upstream.wait_closed(timeout=2.0)

    upstream.enqueue(HangReply(0.2), HangReply(0.1, then=JsonReply({"late": True}, status=503)))
    started = time.monotonic()
    assert request("POST", upstream.base_url + "/v1/messages", {}).json()["type"] == "message"
    assert time.monotonic() - started >= 0.2
    late = request("POST", upstream.base_url + "/v1/messages", {})
    assert (late.status, late.json()) == (503, {"late": True})


def test_stop_cuts_off_hanging_requests_promptly() -> None:
    up = ScriptedUpstream().start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            request("POST", up.openai_base + "/chat/completions", {}, timeout=10)
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever the client raised
            errors.append(exc)

    up.enqueue(HangReply(60))
    caller = threading.Thread(target=call)
    caller.start()
    up.wait_for_requests(1)
    started = time.monotonic()
    up.stop()
    caller.join(5)
    assert time.monotonic() - started < 3
    assert len(errors) == 1
    assert isinstance(errors[0], http.client.RemoteDisconnected | ConnectionError)


def test_lifecycle_errors() -> None:
    up = ScriptedUpstream()
    with pytest.raises(RuntimeError, match="not started"):
        _ = up.base_url
    with up, pytest.raises(RuntimeError, match="already started"):
        up.start()
    up.stop()  # idempotent


def test_large_bodies_and_repeated_headers(upstream: ScriptedUpstream) -> None:
    big = {"model": "m", "messages": [{"role": "user", "content": "x" * 5_000_000}]}
    assert request("POST", upstream.base_url + "/v1/messages", big).status == 200
    assert upstream.received[0].json == big

    conn = http.client.HTTPConnection("127.0.0.1", int(upstream.base_url.rsplit(":", 1)[1]))
    try:
        conn.putrequest("GET", "/v1/models")
        conn.putheader("anthropic-beta", "a")
        conn.putheader("Anthropic-Beta", "b")
        conn.endheaders()
        conn.getresponse().read()
    finally:
        conn.close()
    assert upstream.received[1].headers["anthropic-beta"] == "a, b"


def test_restart_after_stop() -> None:
    up = ScriptedUpstream()
    for _ in range(2):
        with up:
            up.enqueue(HangReply(0.05))
            assert request("GET", up.openai_base + "/models").status == 200


def test_an_empty_queue_asks_the_responder_and_a_queued_reply_comes_first() -> None:
    def responder(rec: Received) -> Reply:
        return JsonReply({"asked": rec.path}, status=201)

    with ScriptedUpstream(responder=responder) as up:
        up.enqueue(JsonReply({"queued": True}))
        first = request("POST", up.openai_base + "/chat/completions", {"model": "m"})
        second = request("GET", up.base_url + "/anything")
        assert (first.status, first.json()) == (200, {"queued": True})
        assert (second.status, second.json()) == (201, {"asked": "/anything"})
        assert up.port == int(up.base_url.rsplit(":", 1)[1])
