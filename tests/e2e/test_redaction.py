"""Upstream error text that quotes a key never reaches a client or the log: every mapped status,
before and inside a stream, translated and passed through, on both client surfaces; and the
channel-health lines a failover writes stay clean too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import (
    JsonReply,
    ScriptedUpstream,
    SSEReply,
    anthropic_error,
    anthropic_error_event,
    anthropic_event,
    anthropic_stream_events,
    openai_error,
    openai_stream,
)
from tests.support.sse import format_sse

MASTER_KEY = "sk-sb-master-redaction-0001"
CLIENT_KEY = "sk-sb-client-redaction-0002"
# Two keys of one provider (a rotation) and an Anthropic key: each is quoted by the upstream.
OPENAI_KEYS = ["sk-proj-Rot4tionKeyOne0123456789", "plain-key-without-shape-4242ab"]
ANTHROPIC_KEY = "sk-ant-api03-Configured0123456789abcdef"
# Key-shaped strings nobody configured here (another tenant's, a client's, Google's).
FOREIGN = [
    "sk-ant-api03-SomeoneElse0123456789abcdefXYZ",
    "sk-sb-AnotherClientsKey0123456789abc",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
]
SECRETS = [MASTER_KEY, CLIENT_KEY, *OPENAI_KEYS, ANTHROPIC_KEY, *FOREIGN]


def quoting(key: str) -> str:
    """An upstream message in the style of providers that echo what they received."""
    return (
        f"Incorrect API key provided: {key}. Authorization: Bearer {FOREIGN[0]}; "
        f"also seen {FOREIGN[1]} and key={FOREIGN[2]}"
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    config: dict[str, Any] = {
        "master_key": MASTER_KEY,
        # One attempt per request (no back-off and retry), and no cooldown: every request
        # reaches the upstream and sees its scripted error.
        "routing": {
            "max_retry_seconds": 1,
            "backoff_seconds": 5,
            "health": {"failures": 10_000, "min_requests": 10_000},
        },
        "providers": [
            {
                "name": "oai",
                "kind": "openai",
                "base_url": upstream.openai_base,
                "api_key": OPENAI_KEYS[0],
                "api_keys": OPENAI_KEYS[1:],
            },
            {
                "name": "ant",
                "kind": "anthropic",
                "base_url": upstream.anthropic_base,
                "api_key": ANTHROPIC_KEY,
            },
        ],
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "models": [
            {"id": "via-openai", "channels": [{"provider": "oai", "model": "up-model"}]},
            {"id": "via-anthropic", "channels": [{"provider": "ant", "model": "claude-up"}]},
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw


def send(gw: GatewayProcess, surface: str, model: str, stream: bool) -> httpx.Response:
    messages = [{"role": "user", "content": "Hello"}]
    body = {"model": model, "max_tokens": 16, "messages": messages, "stream": stream}
    path = "/v1/messages" if surface == "anthropic" else "/v1/chat/completions"
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(gw.url + path, json=body, headers=headers, timeout=10)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked: {text[:600]}"


SURFACES = ["anthropic", "openai"]
MODELS = {"via-openai": OPENAI_KEYS, "via-anthropic": [ANTHROPIC_KEY]}


def status_error(model: str, status: int, message: str) -> JsonReply:
    if model == "via-anthropic":
        kinds = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error"}
        return anthropic_error(status, kinds.get(status, "api_error"), message)
    return openai_error(status, message, type_="server_error" if status >= 500 else "invalid")


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("model", list(MODELS))
def test_status_errors_are_masked(
    gateway: GatewayProcess,
    upstream: ScriptedUpstream,
    model: str,
    surface: str,
    stream: bool,
    status: int,
) -> None:
    for key in MODELS[model]:
        upstream.reset()
        # As many as the model has keys: a retryable error fails over to the next key.
        upstream.enqueue(*[status_error(model, status, quoting(key))] * len(MODELS[model]))
        resp = send(gateway, surface, model, stream)
        assert resp.status_code >= 400, resp.text
        assert_clean(resp.text)
        # The upstream's words still reach the client (the error stays useful).
        assert "Incorrect API key provided: [redacted]" in resp.text


def test_count_tokens_errors_are_masked(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    # count_tokens for an Anthropic upstream asks the upstream: its refusal quotes the key too.
    upstream.reset()
    upstream.enqueue(status_error("via-anthropic", 400, quoting(ANTHROPIC_KEY)))
    body = {"model": "via-anthropic", "messages": [{"role": "user", "content": "Hello"}]}
    resp = httpx.post(
        gateway.url + "/v1/messages/count_tokens",
        json=body,
        headers={"x-api-key": CLIENT_KEY},
        timeout=10,
    )
    assert resp.status_code == 400
    assert upstream.received[-1].path == "/v1/messages/count_tokens"
    assert_clean(resp.text)
    assert "Incorrect API key provided: [redacted]" in resp.text


def _openai_error_mid_stream(message: str) -> SSEReply:
    frames = openai_stream(["Hel"], done=False).frames[:1]
    error = {"error": {"message": message, "type": "server_error", "code": 500}}
    return SSEReply([*frames, format_sse(error)], delay=0.3)  # "Hel" reaches the client first


def _anthropic_error_mid_stream(message: str) -> SSEReply:
    events = anthropic_stream_events(["Hel"])
    first_delta = next(i for i, e in enumerate(events) if e["type"] == "content_block_delta")
    frames = [anthropic_event(e) for e in events[: first_delta + 1]]
    return SSEReply([*frames, anthropic_error_event("overloaded_error", message)], delay=0.1)


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("model", list(MODELS))
def test_errors_inside_a_stream_are_masked(
    gateway: GatewayProcess, upstream: ScriptedUpstream, model: str, surface: str
) -> None:
    # Anthropic surface + Anthropic upstream is the byte-for-byte relay of the upstream's own
    # `event: error`; the other three rebuild the error from the upstream's message.
    upstream.reset()
    key = MODELS[model][0]
    make = _anthropic_error_mid_stream if model == "via-anthropic" else _openai_error_mid_stream
    upstream.enqueue(make(quoting(key)))
    resp = send(gateway, surface, model, stream=True)
    assert resp.status_code == 200
    assert "Hel" in resp.text  # the stream had begun
    assert_clean(resp.text)
    assert "[redacted]" in resp.text


def test_the_log_and_channel_health_stay_clean(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    for model, keys in MODELS.items():
        upstream.reset()
        upstream.enqueue(*[status_error(model, 503, quoting(k)) for k in keys])
        assert send(gateway, "anthropic", model, stream=False).status_code == 529
    channels = httpx.get(
        gateway.url + "/admin/channels", headers={"x-api-key": MASTER_KEY}, timeout=5
    )
    assert channels.status_code == 200
    assert_clean(channels.text)
    output = gateway.output()
    assert_clean(output)
    assert "Incorrect API key provided: [redacted]" in output  # the access lines' errors
    assert "channel oai/up-model failed" in output  # the failover warnings
