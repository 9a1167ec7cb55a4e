"""`GET /v1/models` read by the official SDKs with strict response validation: every catalogue
model listed (following the cursors) and retrieved, by the installed 2.x SDK, by 2.12.0 and by
0.125.0 (the last 0.x).
A field the SDK's `ModelInfo` requires and the gateway leaves out fails the validation."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import anthropic
import pytest
import yaml

from switchboard.catalog import DEMO_MODEL
from tests.clients.conftest import sdk_python
from tests.support.gateway import GatewayProcess
from tests.support.gemini_wire import service_account

MASTER_KEY = "sk-models-master-key"
# Each in its own cached venv: the versions the issue names beside the installed one.
PINNED = ["0.125.0", "2.12.0"]

BUILTIN: dict[str, Any] = yaml.safe_load(
    resources.files("switchboard.catalog").joinpath("builtin.yaml").read_text("utf-8")
)
# What `serve` with no config file builds from the environment: every built-in provider's
# variable set (dummy keys), so every catalogue model is listed. Listing never calls upstreams.
ENV = {p["env"]: "dummy-key-not-used" for p in BUILTIN["providers"]}


def catalogue_ids() -> list[str]:
    """What the Anthropic model list shows: the models on the anthropic endpoint (the default;
    not the embeddings models)."""
    chat = ["anthropic", "openai"]
    return [DEMO_MODEL] + [
        m["id"] for m in BUILTIN["models"] if "anthropic" in m.get("endpoints", chat)
    ]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    home = str(tmp_path_factory.mktemp("home"))  # whatever data directory it picks is in here
    env = {**ENV, "SWITCHBOARD_MASTER_KEY": MASTER_KEY, "HOME": home, "SWITCHBOARD_HOME": home}
    # Vertex AI: its variable names a credentials file, and it needs a project id too; Bedrock:
    # a region and AWS credentials. Neither is used by listing.
    credentials = service_account(Path(home) / "sa.json", "http://127.0.0.1:9/token")
    env |= {"GOOGLE_APPLICATION_CREDENTIALS": str(credentials), "VERTEX_PROJECT": "p"}
    env |= {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "dummy-key-not-used"}
    with GatewayProcess(None, env=env, inherit_env=False) as gw:
        yield gw


def test_current_sdk_lists_and_retrieves_every_model_strictly(gateway: GatewayProcess) -> None:
    assert anthropic.__version__.startswith("2.")
    with anthropic.Anthropic(
        base_url=gateway.url, api_key=MASTER_KEY, max_retries=0, _strict_response_validation=True
    ) as client:
        listed = list(client.models.list(limit=5))
        assert [m.id for m in listed] == catalogue_ids()
        for model in listed:
            assert model.capabilities is not None
            assert model.capabilities.thinking.types.disabled.supported
            got = client.models.retrieve(model.id)
            assert got.id == model.id
            assert got.capabilities == model.capabilities
        beta = [m.id for m in client.beta.models.list(limit=7)]
        assert beta == catalogue_ids()
        assert client.beta.models.retrieve(beta[-1]).id == beta[-1]


# Runs in the pinned SDK's venv: lists with a small page, retrieves each, prints what it validated.
_SCRIPT = """
import json, sys
import anthropic
url, key = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(
    base_url=url, api_key=key, max_retries=0, _strict_response_validation=True
)
ids = [m.id for m in client.models.list(limit=4)]
caps = {}
for model_id in ids:
    info = client.models.retrieve(model_id)
    assert info.id == model_id, (info.id, model_id)
    caps[model_id] = info.capabilities.model_dump()
beta = [m.id for m in client.beta.models.list(limit=9)]
print(json.dumps({"version": anthropic.__version__, "ids": ids, "beta": beta, "caps": caps}))
"""


@pytest.mark.parametrize("version", PINNED)
def test_pinned_sdk_lists_and_retrieves_every_model_strictly(
    gateway: GatewayProcess, version: str
) -> None:
    python = sdk_python(f"anthropic=={version}", f"anthropic-{version}")
    run = subprocess.run(
        [str(python), "-c", _SCRIPT, gateway.url, MASTER_KEY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout)
    assert seen["version"] == version
    assert seen["ids"] == catalogue_ids()
    assert seen["beta"] == catalogue_ids()
    demo = seen["caps"][DEMO_MODEL]
    assert demo["image_input"] == {"supported": True}
    assert demo["thinking"]["supported"] is False
