"""The real gateway as a subprocess, configured against the two scripted upstreams."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx  # the openai SDK's HTTP client
import openai
import pytest

from tests.support.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.chat_stream import validate_chat_stream
from tests.support.gateway import GatewayProcess
from tests.support.gemini_wire import service_account
from tests.support.recording import Recorder

from .upstreams import ScriptedServer, Servers

# The name this suite's gateway had before the launcher was merged.
Gateway = GatewayProcess

MASTER_KEY = "sk-sb-test-master"
CLIENT_KEY = "sk-sb-test-alice"
UPSTREAM_OPENAI_KEY = "sk-upstream-openai-secret"
UPSTREAM_ANTHROPIC_KEY = "sk-upstream-anthropic-secret"
UPSTREAM_GEMINI_KEY = "AIza-upstream-gemini-secret"

# Model id -> which scripted upstream serves it.
MODELS = {
    "gpt-test": "openai",
    "claude-test": "anthropic",
    "gemini-test": "gemini",
    "vertex-claude-test": "vertex",
    "bedrock-claude-test": "bedrock",
    "bedrock-llama-test": "bedrock",
}
BEDROCK_CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # InvokeModel
BEDROCK_LLAMA = "meta.llama3-3-70b-instruct-v1:0"  # Converse

CONFIG = """
master_key: {master}
database: sqlite:///{tmp}/switchboard.db
# Upstream errors reach the client as mapped, not retried (tests/resilience covers retries).
routing: {{max_attempts: 1}}
keys:
  - {{name: alice, key: {client}}}
providers:
  - {{name: up-openai, kind: openai, base_url: "http://127.0.0.1:{oport}/v1", api_key: {okey}}}
  - {{name: up-anthropic, kind: anthropic, base_url: "http://127.0.0.1:{aport}", api_key: {akey}}}
  - {{name: up-gemini, kind: gemini, base_url: "http://127.0.0.1:{gport}/v1beta", api_key: {gkey}}}
  - name: up-vertex
    kind: vertex
    base_url: "http://127.0.0.1:{vport}"
    project: scenario-project
    location: us-east5
    credentials_file: {credentials}
  - name: up-bedrock
    kind: bedrock
    base_url: "http://127.0.0.1:{bport}"
    region: {region}
    aws_access_key_id: {aws_key}
    aws_secret_access_key: {aws_secret}
models:
  - id: gpt-test
    channels: [{{provider: up-openai, model: upstream-gpt}}]
  - id: claude-test
    channels: [{{provider: up-anthropic, model: upstream-claude}}]
    max_output_tokens: 64000
  - id: gemini-test
    channels: [{{provider: up-gemini, model: upstream-gemini}}]
    capabilities: {{thinking: true}}
  - id: vertex-claude-test
    channels: [{{provider: up-vertex, model: claude-upstream@20250101}}]
    max_output_tokens: 64000
  - id: bedrock-claude-test
    channels: [{{provider: up-bedrock, model: "{bclaude}"}}]
    max_output_tokens: 64000
  - id: bedrock-llama-test
    channels: [{{provider: up-bedrock, model: "{bllama}"}}]
  - id: anthropic-only
    endpoints: [anthropic]
    channels: [{{provider: up-anthropic, model: upstream-claude}}]
"""


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    s = Servers()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def gateway(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    tmp = tmp_path_factory.mktemp("gateway")
    config = tmp / "switchboard.yaml"
    config.write_text(
        CONFIG.format(
            master=MASTER_KEY,
            client=CLIENT_KEY,
            tmp=tmp,
            oport=servers.openai.port,
            aport=servers.anthropic.port,
            gport=servers.gemini.port,
            vport=servers.vertex.port,
            bport=servers.bedrock.port,
            region=REGION,
            aws_key=ACCESS_KEY,
            aws_secret=SECRET_KEY,
            bclaude=BEDROCK_CLAUDE,
            bllama=BEDROCK_LLAMA,
            credentials=service_account(
                tmp / "sa.json", f"http://127.0.0.1:{servers.vertex.port}/token"
            ),
            gkey=UPSTREAM_GEMINI_KEY,
            okey=UPSTREAM_OPENAI_KEY,
            akey=UPSTREAM_ANTHROPIC_KEY,
        )
    )
    # No host AWS settings can reach the gateway; nothing may leave loopback.
    env = {"HOME": str(tmp), "AWS_EC2_METADATA_DISABLED": "true"}
    with GatewayProcess(config, cwd=tmp, env=env) as gateway:
        yield gateway


@pytest.fixture(params=["/v1", "/openai/v1"])
def client(request: pytest.FixtureRequest, gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    recorder = Recorder()
    with openai.OpenAI(
        base_url=gateway.url + request.param,
        api_key=CLIENT_KEY,
        max_retries=0,
        http_client=httpx.Client(transport=recorder),
    ) as c:
        yield c
    for body in recorder.streams:  # every stream the test read passes the grammar
        validate_chat_stream(bytes(body))


@pytest.fixture(params=sorted(MODELS))
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def upstream(model: str, servers: Servers) -> Iterator[ScriptedServer]:
    server = {
        "openai": servers.openai,
        "anthropic": servers.anthropic,
        "gemini": servers.gemini,
        "vertex": servers.vertex,
        "bedrock": servers.bedrock,
    }[MODELS[model]]
    server.reset()
    yield server
    server.reset()
