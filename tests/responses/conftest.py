"""The real gateway with the Responses surface, over one scripted upstream that speaks both
dialects: `gpt-test` is served by an OpenAI chat-completions provider, `claude-test` by an
Anthropic one. Every stream a test reads through `client` is kept and, at the test's end, run
through the Responses stream grammar validator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx  # the openai SDK's HTTP client
import openai
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.recording import Recorder
from tests.support.responses_stream import validate_responses_stream

MASTER_KEY = "sk-responses-master"
ALICE = "sk-responses-alice"
BOB = "sk-responses-bob"


def gateway_config(upstream: ScriptedUpstream, *, store: bool) -> dict[str, Any]:
    return {
        "master_key": MASTER_KEY,
        "routing": {"max_attempts": 1},
        "responses": {"store": store, "retention_days": 1},
        "keys": [{"name": "alice", "key": ALICE}, {"name": "bob", "key": BOB}],
        "providers": [
            {"name": "oai", "kind": "openai", "base_url": upstream.openai_base, "api_key": "u-o"},
            {
                "name": "ant",
                "kind": "anthropic",
                "base_url": upstream.anthropic_base,
                "api_key": "u-a",
            },
            {
                "name": "native",
                "kind": "openai",
                "base_url": upstream.openai_base,
                "api_key": "u-n",
                "responses_api": True,
            },
        ],
        "models": [
            {"id": "gpt-test", "channels": [{"provider": "oai", "model": "upstream-gpt"}]},
            {
                "id": "claude-test",
                "max_output_tokens": 64000,
                "capabilities": {"thinking": True},
                "channels": [{"provider": "ant", "model": "upstream-claude"}],
            },
            {"id": "gpt-native", "channels": [{"provider": "native", "model": "upstream-native"}]},
        ],
    }


@pytest.fixture(scope="session")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def gateway(upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    with GatewayProcess(gateway_config(upstream, store=True)) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _fresh(upstream: ScriptedUpstream) -> None:
    upstream.reset()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    for body in rec.streams:  # every stream the test read passes the grammar
        validate_responses_stream(bytes(body))
    rec.close()


def make_client(gateway: GatewayProcess, key: str, recorder: Recorder) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.url + "/v1",
        api_key=key,
        max_retries=0,
        http_client=httpx.Client(transport=recorder),
    )


@pytest.fixture
def client(gateway: GatewayProcess, recorder: Recorder) -> openai.OpenAI:
    return make_client(gateway, ALICE, recorder)
