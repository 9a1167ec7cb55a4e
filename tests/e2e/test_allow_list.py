"""A key's allow-list applies to the catalogue model a request resolves to, not to the name it
sent, and count_tokens (which reaches the upstream with the provider's key) goes through the
same admission: the allow-list, then the key's requests-per-minute limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream

MASTER_KEY = "sk-master-allow-list-0001"
ASK = [{"role": "user", "content": "hi"}]
HAIKU = "claude-3-5-haiku"
RPM = 3


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    config: dict[str, Any] = {
        "master_key": MASTER_KEY,
        "providers": [{"name": "ant", "kind": "anthropic", "base_url": upstream.anthropic_base}],
        "models": [
            {
                "id": HAIKU,
                "aliases": ["haiku"],
                "channels": [{"provider": "ant", "model": "haiku-upstream"}],
            },
            # Another model that catches every other claude-* name, as Claude Code setups do.
            {
                "id": "big/model",
                "aliases": ["claude-*"],
                "channels": [{"provider": "ant", "model": "big-upstream"}],
            },
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _fresh(upstream: ScriptedUpstream) -> None:
    upstream.reset()


def haiku_key(gateway: GatewayProcess, name: str) -> str:
    resp = httpx.post(
        gateway.url + "/admin/keys",
        json={"name": name, "models": [f"{HAIKU}*"], "rpm": RPM},
        headers={"x-api-key": MASTER_KEY},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def client(gateway: GatewayProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=gateway.url, max_retries=0, timeout=10)


@pytest.mark.parametrize(
    "requested",
    [
        # The requested name matches the key's pattern, but resolves (through `claude-*`) to
        # another model: the pattern names claude-3-5-haiku, not big/model.
        "claude-3-5-haiku-20241022",
        "claude-opus-whatever",
        "big/model",
    ],
)
def test_a_name_that_resolves_to_another_model_is_refused(
    gateway: GatewayProcess, upstream: ScriptedUpstream, requested: str
) -> None:
    with client(gateway, haiku_key(gateway, "narrow")) as c:
        with pytest.raises(anthropic.PermissionDeniedError) as err:
            c.messages.create(model=requested, max_tokens=5, messages=ASK)  # type: ignore[arg-type]
        assert c.messages.create(model=HAIKU, max_tokens=5, messages=ASK).content  # type: ignore[arg-type]
        assert c.messages.create(model="haiku", max_tokens=5, messages=ASK).content  # type: ignore[arg-type]
    body: Any = err.value.body
    assert body["error"]["type"] == "permission_error"
    assert body["error"]["message"].startswith(
        f"model: key 'narrow' may not use model '{requested}'"
    )
    assert [r.json["model"] for r in upstream.received] == ["haiku-upstream"] * 2  # type: ignore[index]


def test_count_tokens_for_a_model_the_key_may_not_use_never_reaches_the_upstream(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    with client(gateway, haiku_key(gateway, "counter")) as c:
        for requested in ("claude-3-5-haiku-latest", "claude-opus-whatever", "big/model"):
            with pytest.raises(anthropic.PermissionDeniedError) as err:
                c.messages.count_tokens(model=requested, messages=ASK)  # type: ignore[arg-type]
            assert err.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    assert upstream.received == []


def test_count_tokens_for_an_allowed_model_works_within_the_keys_rate(
    gateway: GatewayProcess, upstream: ScriptedUpstream
) -> None:
    with client(gateway, haiku_key(gateway, "counted")) as c:
        for _ in range(RPM):
            assert c.messages.count_tokens(model=HAIKU, messages=ASK).input_tokens == 42  # type: ignore[arg-type]
        with pytest.raises(anthropic.RateLimitError) as err:
            c.messages.count_tokens(model=HAIKU, messages=ASK)  # type: ignore[arg-type]
        message = err.value.body["error"]["message"]  # type: ignore[index]
        assert message.startswith(f"rate limit: key 'counted' has made {RPM} token counts")
        assert 0 < int(err.value.response.headers["retry-after"]) <= 60
        assert len(upstream.received) == RPM
        # Token counts have their own window, as on the Anthropic API: messages still go.
        assert c.messages.create(model=HAIKU, max_tokens=5, messages=ASK).content  # type: ignore[arg-type]
