"""OpenTelemetry traces, end to end: the real gateway exports OTLP/HTTP to a receiver on
loopback while the anthropic SDK talks to it and a scripted upstream answers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.support.gateway import GatewayProcess, free_port
from tests.support.mock_upstream import (
    ScriptedUpstream,
    openai_completion,
    openai_error,
    openai_stream,
)
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan

MASTER_KEY = "sk-trace-master-key-1234"
CLIENT_KEY = "sk-trace-client-key-5678"
UPSTREAM_KEY = "sk-trace-upstream-key-9012"
COLLECTOR_TOKEN = "collector-token-3456"
SERVER, CLIENT = 2, 3  # OTLP's SpanKind values
ERROR = 2  # OTLP's StatusCode.ERROR
PROMPT = "the secret recipe is forty-two"


def _config(up: ScriptedUpstream, receiver: OtlpReceiver, **telemetry: Any) -> dict[str, Any]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    return {
        "master_key": MASTER_KEY,
        "routing": {"max_retry_seconds": 1, "backoff_seconds": 5},
        "telemetry": {
            "otlp_endpoint": receiver.endpoint,
            "service_name": "gw-under-test",
            "headers": {"authorization": f"Bearer {COLLECTOR_TOKEN}"},
            "export_interval": 0.1,
            **telemetry,
        },
        "providers": [
            {"name": "up", "kind": "openai", "base_url": up.openai_base, "api_key": UPSTREAM_KEY},
            {"name": "dead", "kind": "openai", "base_url": dead},
        ],
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "models": [
            {
                "id": "test/kimi",
                "aliases": ["claude-*"],
                "pricing": {"input": 1.0, "output": 2.0},
                "channels": [{"provider": "up", "model": "kimi-k2"}],
            },
            {
                "id": "test/failover",
                "channels": [
                    {"provider": "dead", "model": "gone-first", "priority": 0},
                    {"provider": "up", "model": "backup-model", "priority": 1},
                ],
            },
        ],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, receiver: OtlpReceiver) -> Iterator[GatewayProcess]:
    with GatewayProcess(_config(upstream, receiver)) as gw:
        yield gw
    output = gw.output()
    assert COLLECTOR_TOKEN not in output


@pytest.fixture
def client(gateway: GatewayProcess, upstream: ScriptedUpstream) -> Iterator[anthropic.Anthropic]:
    upstream.reset()
    with anthropic.Anthropic(
        base_url=gateway.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
    ) as c:
        yield c


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]


def _wait_trace(receiver: OtlpReceiver, trace_id: str, count: int) -> list[ReceivedSpan]:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        spans = receiver.trace(trace_id)
        if len(spans) >= count:
            return spans
        time.sleep(0.05)
    raise AssertionError(f"trace {trace_id}: {receiver.trace(trace_id)}")


def test_a_request_is_one_trace_from_the_client_through_the_gateway_into_the_upstream(
    client: anthropic.Anthropic, upstream: ScriptedUpstream, receiver: OtlpReceiver
) -> None:
    upstream.enqueue(openai_completion("hello", usage=(21, 4)))
    traceparent, trace_id, client_span = _traceparent()
    reply = client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"traceparent": traceparent},
    )
    assert reply.content[0].type == "text"

    spans = _wait_trace(receiver, trace_id, 4)
    (request,) = [s for s in spans if s.kind == SERVER]
    # A child of the client's span, named and described after the GenAI conventions.
    assert request.parent_span_id == client_span
    assert request.name == "chat claude-sonnet-4-5"
    assert request.resource["service.name"] == "gw-under-test"
    attrs = request.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "claude-sonnet-4-5"
    assert attrs["gen_ai.response.model"] == "kimi-k2"
    assert attrs["gen_ai.provider.name"] == "up"
    assert attrs["gen_ai.usage.input_tokens"] == 21
    assert attrs["gen_ai.usage.output_tokens"] == 4
    assert attrs["http.response.status_code"] == 200
    assert attrs["switchboard.cost_usd"] == pytest.approx((21 * 1.0 + 4 * 2.0) / 1e6)
    # Its phases are its children.
    (admission,) = _by_name(spans, "switchboard.admission")
    (attempt,) = [s for s in spans if s.kind == CLIENT]
    (settlement,) = _by_name(spans, "switchboard.settlement")
    for child in (admission, attempt, settlement):
        assert child.parent_span_id == request.span_id
        assert request.start_ns <= child.start_ns <= child.end_ns <= request.end_ns
    assert attempt.name == "chat kimi-k2"
    assert attempt.attributes["gen_ai.provider.name"] == "up"
    # The upstream got the trace, the attempt span as the parent.
    (seen,) = upstream.received
    assert seen.headers["traceparent"] == f"00-{trace_id}-{attempt.span_id}-01"
    # No content, no secret, unless the operator asks.
    for span in spans:
        text = repr(span.attributes)
        assert PROMPT not in text
        for secret in (CLIENT_KEY, UPSTREAM_KEY, MASTER_KEY):
            assert secret not in text
    # The collector's credential went with the export.
    assert receiver.headers[-1]["authorization"] == f"Bearer {COLLECTOR_TOKEN}"


def test_failover_shows_each_attempt_and_which_failed(
    client: anthropic.Anthropic, upstream: ScriptedUpstream, receiver: OtlpReceiver
) -> None:
    upstream.enqueue(openai_completion("from the backup"))
    traceparent, trace_id, _ = _traceparent()
    client.messages.create(
        model="test/failover",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"traceparent": traceparent},
    )
    spans = _wait_trace(receiver, trace_id, 5)
    attempts = sorted((s for s in spans if s.kind == CLIENT), key=lambda s: s.start_ns)
    assert [a.name for a in attempts] == ["chat gone-first", "chat backup-model"]
    assert attempts[0].status_code == ERROR
    assert attempts[0].attributes["error.type"] == "api_error"
    assert attempts[1].status_code != ERROR
    (request,) = [s for s in spans if s.kind == SERVER]
    assert request.attributes["switchboard.failovers"] == 1
    assert request.attributes["gen_ai.response.model"] == "backup-model"


def test_an_upstream_refusal_marks_the_request_span(
    client: anthropic.Anthropic, upstream: ScriptedUpstream, receiver: OtlpReceiver
) -> None:
    upstream.enqueue(openai_error(400, "bad things"))
    traceparent, trace_id, _ = _traceparent()
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"traceparent": traceparent},
        )
    spans = _wait_trace(receiver, trace_id, 3)
    (request,) = [s for s in spans if s.kind == SERVER]
    assert request.status_code == ERROR
    assert request.attributes["http.response.status_code"] == 400
    assert request.attributes["error.type"] == "invalid_request_error"
    (attempt,) = [s for s in spans if s.kind == CLIENT]
    assert attempt.attributes["http.response.status_code"] == 400


def test_a_stream_span_lasts_until_the_stream_ends(
    client: anthropic.Anthropic, upstream: ScriptedUpstream, receiver: OtlpReceiver
) -> None:
    upstream.enqueue(openai_stream(["a", "b", "c"], usage=(9, 3)))
    traceparent, trace_id, _ = _traceparent()
    with client.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"traceparent": traceparent},
    ) as stream:
        text = stream.get_final_text()
    assert text == "abc"
    spans = _wait_trace(receiver, trace_id, 4)
    (request,) = [s for s in spans if s.kind == SERVER]
    assert request.attributes["gen_ai.request.stream"] is True
    assert request.attributes["gen_ai.usage.output_tokens"] == 3
    (settlement,) = _by_name(spans, "switchboard.settlement")
    assert settlement.end_ns <= request.end_ns


def test_a_request_without_a_parent_starts_its_own_trace(
    client: anthropic.Anthropic, upstream: ScriptedUpstream, receiver: OtlpReceiver
) -> None:
    upstream.enqueue(openai_completion("hi"))
    client.messages.create(
        model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
    )
    (seen,) = upstream.received
    version, trace_id, _parent, flags = seen.headers["traceparent"].split("-")
    assert version == "00"
    assert int(flags, 16) & 1  # sampled
    spans = _wait_trace(receiver, trace_id, 4)
    (request,) = [s for s in spans if s.kind == SERVER]
    assert request.parent_span_id == ""


def test_sampling_and_content_capture_follow_the_config(upstream: ScriptedUpstream) -> None:
    """sample_ratio 0: no trace of its own is exported (a client's sampled parent still is);
    capture_content: the prompt is on the span, its secrets masked."""
    with (
        OtlpReceiver() as receiver,
        GatewayProcess(_config(upstream, receiver, sample_ratio=0.0, capture_content=True)) as gw,
        anthropic.Anthropic(
            base_url=gw.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
        ) as client,
    ):
        upstream.reset()
        upstream.enqueue(openai_completion("one"), openai_completion("two"))
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
        traceparent, trace_id, _ = _traceparent()
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=8,
            messages=[{"role": "user", "content": f"{PROMPT}; my key is {UPSTREAM_KEY}"}],
            extra_headers={"traceparent": traceparent},
        )
        unsampled = upstream.received[0].headers["traceparent"]
        assert not int(unsampled.rsplit("-", 1)[1], 16) & 1  # not sampled
        spans = _wait_trace(receiver, trace_id, 4)
        (request,) = [s for s in spans if s.kind == SERVER]
        captured = request.attributes["gen_ai.input.messages"]
        assert PROMPT in captured
        assert UPSTREAM_KEY not in captured
        assert "two" in request.attributes["gen_ai.output.messages"]
        gw.stop()
        assert {s.trace_id for s in receiver.spans} == {trace_id}


def test_telemetry_off_sends_no_trace_context(tmp_path: Any, upstream: ScriptedUpstream) -> None:
    with OtlpReceiver() as receiver:
        config = _config(upstream, receiver)
        del config["telemetry"]
        with (
            GatewayProcess(config) as gw,
            anthropic.Anthropic(
                base_url=gw.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
            ) as client,
        ):
            upstream.reset()
            upstream.enqueue(openai_completion("hi"))
            client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=8,
                messages=[{"role": "user", "content": "x"}],
                extra_headers={"traceparent": _traceparent()[0]},
            )
            assert "traceparent" not in upstream.received[0].headers
