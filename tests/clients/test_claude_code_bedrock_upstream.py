"""Claude Code (first-party mode, at the gateway's /anthropic) through a Bedrock upstream: the
gateway relays its Messages bodies to InvokeModelWithResponseStream, SigV4-signed (the scripted
Bedrock server recomputes the signature with botocore and refuses a wrong one), and the AWS
event stream back to Claude Code as Anthropic SSE. The upstream behaves as a model driving an
agent: it calls `Write` for the file named in the prompt, then answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.clients.agent_upstream import FILE_CONTENT, FILE_MARK
from tests.clients.claude_code import write_file
from tests.clients.conftest import MASTER_KEY
from tests.support.anthropic_wire import ToolUseBlock
from tests.support.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY, BedrockServer
from tests.support.bedrock_wire import claude_message, claude_stream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Received, Reply

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))


def agent(rec: Received) -> Reply:
    """InvokeModel's reply (streamed on invoke-with-response-stream) to one Messages body."""
    body: dict[str, Any] = rec.json if isinstance(rec.json, dict) else {}
    messages = body.get("messages", [])
    tools = {t.get("name") for t in body.get("tools", [])}
    last = messages[-1]["content"] if messages else ""
    finished = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
    target = None
    for m in messages:
        if m["role"] == "user":
            found = FILE_MARK.search(_texts(m["content"]))
            target = found.group(1) if found else target
    uses = []
    if not finished and target and "Write" in tools:
        args = orjson.dumps({"file_path": target, "content": FILE_CONTENT}).decode()
        uses = [ToolUseBlock("Write", [args[:10], args[10:]], id="toolu_bedrock_1")]
    text = "I created the file." if finished else ("I'll write the file." if uses else "ok")
    if not rec.path.endswith("/invoke-with-response-stream"):
        return claude_message(text)
    stop = "tool_use" if uses else "end_turn"
    return claude_stream([text], usage=(1200, 25), tool_uses=uses, stop_reason=stop)


@pytest.fixture(scope="module")
def bedrock() -> Iterator[BedrockServer]:
    with BedrockServer(responder=agent) as server:
        yield server


@pytest.fixture(scope="module")
def bedrock_gateway(
    bedrock: BedrockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = {
        "master_key": MASTER_KEY,
        "providers": [
            {
                "name": "bedrock",
                "kind": "bedrock",
                "region": REGION,
                "base_url": bedrock.base_url,
                "aws_access_key_id": ACCESS_KEY,
                "aws_secret_access_key": SECRET_KEY,
            }
        ],
        "models": [
            {
                "id": "bedrock/claude-sonnet-4-5",
                "aliases": ["claude-*"],
                "capabilities": {"thinking": True, "vision": True, "pdf": True, "tools": True},
                "channels": [{"provider": "bedrock", "model": CLAUDE}],
            }
        ],
    }
    # No host AWS settings, no instance-metadata lookup: nothing may leave loopback.
    home = tmp_path_factory.mktemp("home")
    env = {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true", "PATH": os.environ["PATH"]}
    with GatewayProcess(config, env=env, inherit_env=False) as gw:
        yield gw


def test_claude_code_through_a_bedrock_upstream(
    node_modules: Path,
    bedrock_gateway: GatewayProcess,
    bedrock: BedrockServer,
    tmp_path: Path,
) -> None:
    assert bedrock_gateway.url.startswith("http://127.0.0.1:")
    env = {
        "ANTHROPIC_BASE_URL": bedrock_gateway.url + "/anthropic",
        "ANTHROPIC_AUTH_TOKEN": MASTER_KEY,
    }
    before = len(bedrock.received)
    target, _ = write_file(node_modules, tmp_path, env)
    assert target.read_text() == FILE_CONTENT
    assert bedrock.refused == 0  # every request carried a valid SigV4 signature
    calls = [r for r in bedrock.received[before:] if isinstance(r.json, dict)]
    assert all(r.path == f"/model/{CLAUDE}/invoke-with-response-stream" for r in calls)
    final = calls[-1].json
    assert isinstance(final, dict)
    # Bedrock's body: its version, no model or stream; the tool result went back in order.
    assert final["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in final
    assert "stream" not in final
    assert final["messages"][-1]["content"][0]["tool_use_id"] == "toolu_bedrock_1"
