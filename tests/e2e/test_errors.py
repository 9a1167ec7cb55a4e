"""Every error a client can see: the Anthropic envelope, the right status and type, a message
naming the field or model, a request id, and what the SDK raises."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import MessageParam

from tests.e2e.conftest import CLIENT_KEY
from tests.support.envelope import assert_envelope
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_error, openai_stream
from tests.support.replies import DropReply, HangReply
from tests.support.stream_validator import validate_anthropic_stream

MODEL = "moonshotai/kimi-k2-instruct"
HELLO: list[MessageParam] = [{"role": "user", "content": "Hello"}]


def post(gw: GatewayProcess, body: Any, key: str | None = CLIENT_KEY, **kw: Any) -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    if isinstance(body, bytes):
        return httpx.post(gw.url + "/v1/messages", content=body, headers=headers, timeout=10, **kw)
    return httpx.post(gw.url + "/v1/messages", json=body, headers=headers, timeout=10, **kw)


GOOD = {"model": MODEL, "max_tokens": 5, "messages": HELLO}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": HELLO}, "max_tokens: Field required"),
        ({"model": MODEL, "max_tokens": "5", "messages": HELLO}, "max_tokens: Expected `int`"),
        ({"model": MODEL, "max_tokens": 5}, "messages: Field required"),
        ({"max_tokens": 5, "messages": HELLO}, "model: Field required"),
        (b"{oops", "not valid JSON"),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]},
            "messages.0.role",
        ),
    ],
)
def test_bad_requests_name_the_field(gateway: GatewayProcess, body: Any, message: str) -> None:
    assert_envelope(post(gateway, body), 400, "invalid_request_error", message)


def test_missing_and_wrong_keys(gateway: GatewayProcess) -> None:
    assert_envelope(post(gateway, GOOD, key=None), 401, "authentication_error", "missing API key")
    assert_envelope(post(gateway, GOOD, key="sk-nope"), 401, "authentication_error", "invalid")
    with anthropic.Anthropic(base_url=gateway.url, api_key="sk-nope", max_retries=0) as c:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            c.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
        assert caught.value.request_id is not None


def test_unknown_model_says_which(gateway: GatewayProcess) -> None:
    body = {**GOOD, "model": "no-such/model"}
    assert_envelope(post(gateway, body), 404, "not_found_error", "no-such/model")
    body = {**GOOD, "model": "test/openai-only"}  # not served on the Anthropic surface
    assert_envelope(post(gateway, body), 404, "not_found_error", "test/openai-only")


def test_body_too_large(gateway: GatewayProcess) -> None:
    big = {**GOOD, "messages": [{"role": "user", "content": "x" * 300_000}]}
    assert_envelope(post(gateway, big), 413, "request_too_large", "limit")


def test_unknown_route(gateway: GatewayProcess) -> None:
    resp = httpx.get(gateway.url + "/v1/nothing-here", timeout=5)
    assert_envelope(resp, 404, "not_found_error", "/v1/nothing-here")


@pytest.mark.parametrize(
    ("reply", "status", "error_type", "message"),
    [
        (
            openai_error(429, "slow down", headers={"retry-after": "7"}),
            429,
            "rate_limit_error",
            "slow down",
        ),
        (openai_error(500, "kaput", type_="server_error"), 502, "api_error", "kaput"),
        (openai_error(503, "busy"), 529, "overloaded_error", "busy"),
        (openai_error(529, "overloaded"), 529, "overloaded_error", "overloaded"),
        (openai_error(400, "context too long"), 400, "invalid_request_error", "context too long"),
        # The upstream refusing the gateway's own key is the operator's problem.
        (openai_error(401, "Incorrect API key"), 502, "api_error", "operator"),
        (DropReply(), 502, "api_error", "could not reach"),
    ],
)
def test_upstream_errors_are_mapped(
    gateway: GatewayProcess,
    upstream: ScriptedUpstream,
    reply: Any,
    status: int,
    error_type: str,
    message: str,
) -> None:
    upstream.enqueue(reply)
    resp = post(gateway, GOOD)
    assert_envelope(resp, status, error_type, message)
    if status == 429:
        assert resp.headers["retry-after"] == "7"


def test_upstream_429_reaches_the_sdk_as_rate_limit(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_error(429, "slow down", headers={"retry-after": "3"}))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "3"


def test_first_byte_timeout_is_504(gateway: GatewayProcess, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(HangReply(4))
    resp = post(gateway, {**GOOD, "model": "test/slow"})
    assert_envelope(resp, 504, "timeout_error", "timed out")


def test_every_channel_unreachable(gateway: GatewayProcess) -> None:
    assert_envelope(
        post(gateway, {**GOOD, "model": "test/dead"}), 502, "api_error", "could not reach"
    )


def test_stream_errors_before_the_first_byte_are_http_errors(
    client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(openai_error(503, "busy"))
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=5, messages=HELLO) as stream,
    ):
        stream.get_final_message()
    assert caught.value.status_code == 529
    assert caught.value.type == "overloaded_error"


def test_stream_cut_after_the_first_byte_ends_in_an_error_event(
    gateway: GatewayProcess, client: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    # The upstream sends two text chunks, then closes without a finish reason or [DONE].
    reply = openai_stream(["partial ", "answer"], usage=None, done=False)
    cut = type(reply)(frames=reply.frames[:2])
    upstream.enqueue(cut)
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={**GOOD, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
        timeout=10,
    ) as resp:
        assert resp.status_code == 200
        raw = resp.read()
    events = validate_anthropic_stream(raw)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error"
    assert "ended before it finished" in events[-1]["error"]["message"]

    upstream.enqueue(cut)
    with (
        pytest.raises(anthropic.APIStatusError, match="ended before it finished"),
        client.messages.stream(model=MODEL, max_tokens=5, messages=HELLO) as stream,
    ):
        stream.get_final_message()


def test_stream_mid_stream_upstream_error_event(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    reply = openai_stream(["a"], usage=None, done=False)
    frames = [
        *reply.frames[:2],
        'data: {"error": {"message": "upstream exploded", "code": 500}}\n\n',
    ]
    # Apart in time: the error comes after the client has had the first events.
    upstream.enqueue(type(reply)(frames=frames, delay=0.05))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages",
        json={**GOOD, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
        timeout=10,
    ) as resp:
        raw = resp.read()
    events = validate_anthropic_stream(raw)
    assert events[-1]["type"] == "error"
    assert "upstream exploded" in events[-1]["error"]["message"]
