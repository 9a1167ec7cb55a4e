"""Real clients installed from the registries into a cache shared between runs: Claude Code and
the TypeScript SDK from npm, an old (0.x) anthropic Python SDK from PyPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.agent_upstream import AgentUpstream
from tests.support.gateway import GatewayProcess

CACHE = Path(os.environ.get("SWITCHBOARD_TEST_CACHE", Path.home() / ".cache" / "switchboard-tests"))
# The version whose requests issue 15 measured, and the newest on npm when it was added
# (`npm view @anthropic-ai/claude-code version`). The first is installed with the TypeScript SDK
# (node_modules/.bin/claude), each other one into a prefix of its own.
CLAUDE_CODE_VERSIONS = ("2.1.330", "2.1.332")
NPM_PACKAGES = [f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSIONS[0]}", "@anthropic-ai/sdk@1.12.0"]
OLD_SDK = "anthropic==0.121.0"
MASTER_KEY = "sk-clients-master-key"


def _unavailable(why: str) -> None:
    # On CI a missing tool is a failure, not a skip: the client tests must run there.
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(why)
    pytest.skip(why)


def npm_install(prefix: Path, packages: list[str]) -> Path:
    """`packages` installed under `prefix` (cached between runs); its node_modules."""
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed")
    assert npm is not None
    marker = prefix / ("installed-" + "-".join(p.replace("/", "_") for p in packages))
    if not marker.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), *packages],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            _unavailable(f"npm install failed: {result.stderr[-2000:]}")
        marker.touch()
    return prefix / "node_modules"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return npm_install(CACHE / "npm", NPM_PACKAGES)


def claude_code(version: str) -> Path:
    """The `claude` executable of one Claude Code version."""
    if version == CLAUDE_CODE_VERSIONS[0]:
        return npm_install(CACHE / "npm", NPM_PACKAGES) / ".bin" / "claude"
    prefix = CACHE / f"claude-code-{version}"
    return npm_install(prefix, [f"@anthropic-ai/claude-code@{version}"]) / ".bin" / "claude"


@pytest.fixture(scope="session")
def claude() -> Path:
    """Claude Code 2.1.330, for the tests that need one version."""
    return claude_code(CLAUDE_CODE_VERSIONS[0])


@pytest.fixture(scope="session", params=CLAUDE_CODE_VERSIONS)
def any_claude(request: pytest.FixtureRequest) -> Path:
    """Each tested Claude Code version in turn."""
    version: str = request.param
    return claude_code(version)


def sdk_python(requirement: str, name: str) -> Path:
    """The python of a venv `name` (cached between runs) with `requirement` installed."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    marker = venv / ("installed-" + requirement)
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            _unavailable(f"pip install {requirement} failed: {result.stderr[-2000:]}")
        marker.touch()
    return python


@pytest.fixture(scope="session")
def old_sdk_python() -> Path:
    """A venv with the last 0.x anthropic SDK (sends x-api-key and 2023-06-01)."""
    return sdk_python(OLD_SDK, "anthropic-0x")


@pytest.fixture(scope="session")
def agent_upstream() -> Iterator[AgentUpstream]:
    with AgentUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def agent_gateway(agent_upstream: AgentUpstream) -> Iterator[GatewayProcess]:
    config = {
        "master_key": MASTER_KEY,
        "providers": [
            {"name": "agent", "kind": "openai", "base_url": agent_upstream.base_url, "api_key": "k"}
        ],
        "models": [
            {
                "id": "moonshotai/kimi-k2-instruct",
                "aliases": ["claude-*"],
                "context_window": 131072,
                "max_output_tokens": 16384,
                "channels": [{"provider": "agent", "model": "kimi-k2-0905-preview"}],
            }
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw


@pytest.fixture(scope="session")
def gemini_agent_gateway(agent_upstream: AgentUpstream) -> Iterator[GatewayProcess]:
    """The same agent behind a `kind: gemini` provider."""
    base = agent_upstream.base_url.removesuffix("/v1") + "/v1beta"
    config = {
        "master_key": MASTER_KEY,
        "providers": [{"name": "gemini", "kind": "gemini", "base_url": base, "api_key": "g"}],
        "models": [
            {
                "id": "gemini-3-flash-preview",
                "aliases": ["claude-*"],
                "context_window": 1048576,
                "max_output_tokens": 65536,
                "capabilities": {"vision": True, "pdf": True, "tools": True, "thinking": True},
                "channels": [{"provider": "gemini", "model": "gemini-3-flash-preview"}],
            }
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw
