"""The clients users actually run, against the real gateway translating to an OpenAI-compatible
upstream: Claude Code doing a tool round trip, the TypeScript SDK, and a 0.x Python SDK."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.clients.agent_upstream import FILE_CONTENT, GEMINI_SIGNATURE, AgentUpstream
from tests.clients.claude_code import write_file
from tests.clients.claude_run import run_claude
from tests.clients.conftest import MASTER_KEY
from tests.support.gateway import GatewayProcess

MODEL = "moonshotai/kimi-k2-instruct"


def test_claude_code_writes_a_file_through_the_gateway(
    any_claude: Path,
    agent_gateway: GatewayProcess,
    agent_upstream: AgentUpstream,
    tmp_path: Path,
) -> None:
    target = tmp_path / "work" / "hello.txt"
    before = len(agent_upstream.received)
    run = run_claude(
        any_claude,
        agent_gateway.url + "/anthropic",
        f"Create the file SBFILE:{target} with a greeting.",
        tmp_path,
        *("--allowedTools", "Write"),
    )
    report = run.report
    assert report["type"] == "result"
    assert report["is_error"] is False
    assert target.read_text() == FILE_CONTENT

    requests = agent_upstream.received[before:]
    assert len(requests) >= 2
    final = requests[-1]
    # The second turn carried the tool call and its result back to the upstream, in order.
    roles = [m["role"] for m in final["messages"]]
    assert roles[-2:] == ["assistant", "tool"]
    assert final["messages"][-2]["tool_calls"][0]["id"] == "functions.Write:0"
    assert final["messages"][-1]["tool_call_id"] == "functions.Write:0"
    assert all(r["stream_options"] == {"include_usage": True} for r in requests if r.get("stream"))


def test_claude_code_through_a_gemini_upstream(
    claude: Path,
    gemini_agent_gateway: GatewayProcess,
    agent_upstream: AgentUpstream,
    tmp_path: Path,
) -> None:
    target = tmp_path / "work" / "hello.txt"
    before = len(agent_upstream.received)
    report = run_claude(
        claude,
        gemini_agent_gateway.url + "/anthropic",
        f"Create the file SBFILE:{target} with a greeting.",
        tmp_path,
        *("--allowedTools", "Write"),
    ).report
    assert report["subtype"] == "success"
    assert report["result"] == "I created the file."
    assert report["num_turns"] == 2
    assert target.read_text() == FILE_CONTENT
    final = agent_upstream.received[before:][-1]
    # Claude Code sent the sealed thinking block back; Gemini got its own signature, on its call.
    model_turn, results = final["contents"][-2:]
    call = next(p for p in model_turn["parts"] if "functionCall" in p)
    assert call["thoughtSignature"] == GEMINI_SIGNATURE
    assert call["functionCall"]["name"] == "Write"
    assert results["parts"][0]["functionResponse"]["name"] == "Write"


def test_typescript_sdk(node_modules: Path, agent_gateway: GatewayProcess) -> None:
    script = Path(__file__).with_name("ts_client.mjs")
    env = {
        "PATH": os.environ["PATH"],
        "NODE_PATH": str(node_modules),
        "BASE_URL": agent_gateway.url + "/anthropic",
        "KEY": MASTER_KEY,
        "MODEL": MODEL,
    }
    # ESM resolves packages from the script's directory upwards: run a copy beside node_modules.
    runnable = node_modules.parent / "ts_client.mjs"
    runnable.write_text(script.read_text())
    result = subprocess.run(
        ["node", str(runnable)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["created"]["text"] == "ok"
    assert out["created"]["model"] == MODEL
    assert out["created"]["usage"]["output_tokens"] == 25
    assert out["stream"]["text"] == "ok"
    assert out["stream"]["final"] == "ok"
    assert out["stream"]["stop"] == "end_turn"
    assert out["tool"]["blocks"] == ["text", "tool_use"]
    assert out["tool"]["input"] == {"file_path": "/tmp/x.txt", "content": FILE_CONTENT}
    assert out["tool"]["stop"] == "tool_use"
    assert out["error"]["status"] == 401
    assert out["error"]["type"] == "authentication_error"
    assert out["error"]["requestID"].startswith("req_")


def test_old_python_sdk(old_sdk_python: Path, agent_gateway: GatewayProcess) -> None:
    script = textwrap.dedent(
        """
        import json, sys, anthropic
        client = anthropic.Anthropic(base_url=sys.argv[1], api_key=sys.argv[2], max_retries=0)
        msg = client.messages.create(model=sys.argv[3], max_tokens=32,
                                     messages=[{"role": "user", "content": "hi"}])
        with client.messages.stream(model=sys.argv[3], max_tokens=32,
                                    messages=[{"role": "user", "content": "hi"}]) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        print(json.dumps({"version": anthropic.__version__, "text": msg.content[0].text,
                          "streamed": text, "usage": final.usage.output_tokens}))
        """
    )
    result = subprocess.run(
        [str(old_sdk_python), "-c", script, agent_gateway.url, MASTER_KEY, MODEL],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["version"].startswith("0.")
    assert (out["text"], out["streamed"], out["usage"]) == ("ok", "ok", 25)


# Claude Code configured for Bedrock or Vertex, pointed at the gateway: it skips the cloud's
# auth and sends ANTHROPIC_AUTH_TOKEN as `Authorization: Bearer` (the Switchboard key).
CLOUD_MODES = {
    "bedrock": {
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "ANTHROPIC_BEDROCK_BASE_URL": "{url}",
        "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        "AWS_REGION": "us-east-1",
    },
    "vertex": {
        "CLAUDE_CODE_USE_VERTEX": "1",
        "ANTHROPIC_VERTEX_BASE_URL": "{url}/vertex/v1",
        "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
        "ANTHROPIC_VERTEX_PROJECT_ID": "switchboard-test",
        "CLOUD_ML_REGION": "us-east5",
    },
}


@pytest.mark.parametrize("mode", sorted(CLOUD_MODES))
def test_claude_code_in_cloud_mode_writes_a_file(
    node_modules: Path,
    agent_gateway: GatewayProcess,
    agent_upstream: AgentUpstream,
    tmp_path: Path,
    mode: str,
) -> None:
    assert agent_gateway.url.startswith("http://127.0.0.1:")  # never anywhere else
    env = {k: v.format(url=agent_gateway.url) for k, v in CLOUD_MODES[mode].items()}
    before = len(agent_upstream.received)
    target, _ = write_file(node_modules, tmp_path, {"ANTHROPIC_AUTH_TOKEN": MASTER_KEY, **env})
    assert target.read_text() == FILE_CONTENT
    final = agent_upstream.received[before:][-1]
    assert [m["role"] for m in final["messages"]][-2:] == ["assistant", "tool"]
    assert final["messages"][-1]["tool_call_id"] == "functions.Write:0"
