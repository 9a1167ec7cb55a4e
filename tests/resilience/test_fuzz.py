"""Hostile and malformed requests against the running gateway: never a 5xx for a client's
mistake, never a hang, always the error envelope, and the gateway keeps serving."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.resilience.conftest import CLIENT_KEY, GatewayProcess, post

PATHS = [
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/chat/completions",
    "/openai/v1/chat/completions",
]
VALID = {
    "/v1/messages": {
        "model": "test/solo",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "/v1/chat/completions": {"model": "test/solo", "messages": [{"role": "user", "content": "hi"}]},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "model",
        "messages",
        "max_tokens",
        "stream",
        "system",
        "tools",
        "tool_choice",
        "metadata",
        "temperature",
        "stop_sequences",
        "thinking",
        "content",
        "role",
        "stream_options",
        "n",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid body with a few fields replaced, removed or nested wrong."""
    path = draw(st.sampled_from(sorted(VALID)))
    body: dict[str, Any] = json.loads(json.dumps(VALID[path]))
    for _ in range(draw(st.integers(1, 3))):
        name = draw(field_names)
        if draw(st.booleans()):
            body[name] = draw(json_values)
        else:
            body.pop(name, None)
    if draw(st.booleans()):
        body["messages"] = [
            {
                "role": draw(st.sampled_from(["user", "assistant", "system", "x"])),
                "content": draw(json_values),
            }
        ]
    return json.dumps(body).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated(),
    st.just(b"{" * 5000),  # deep nesting
    st.just(b'{"model": "test/solo", "max_tokens": 1e999, "messages": []}'),
)
# What an HTTP client will send at all: printable ASCII without surrounding blanks.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).filter(
    lambda s: s == s.strip()
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            ["application/json", "text/plain", "", "multipart/form-data"]
        ),
        "anthropic-version": header_text,
        "anthropic-beta": header_text,
        "x-claude-code-session-id": header_text,
        "x-api-key": header_text,
    },
)


def _check(resp: httpx.Response, path: str) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    if resp.status_code >= 400:
        body = resp.json()
        error = body["error"]
        assert isinstance(error["message"], str)
        assert isinstance(error["type"], str)
        if "chat/completions" not in path:
            assert body["type"] == "error"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), body=bodies, extra=headers, authorized=st.booleans())
def test_hostile_requests_get_envelopes_never_5xx(
    gateway: GatewayProcess, path: str, body: bytes, extra: dict[str, str], authorized: bool
) -> None:
    sent = dict(extra)
    if authorized:
        sent["x-api-key"] = CLIENT_KEY
        sent["authorization"] = f"Bearer {CLIENT_KEY}"
    resp = httpx.post(gateway.url + path, content=body, headers=sent, timeout=10)
    _check(resp, path)


def test_the_gateway_still_serves_after_the_fuzzing(gateway: GatewayProcess) -> None:
    resp = post(gateway, VALID["/v1/messages"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "ok"
