"""Where a bedrock provider's credentials come from: a shared credentials file and a named
profile (HOME in a temp dir), and what a client sees when there are none."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest

from tests.support.bedrock_upstream import ACCESS_KEY, REGION, SECRET_KEY, BedrockServer
from tests.support.gateway import GatewayProcess

from .conftest import CLIENT_KEY, LLAMA, clean_env

pytestmark = pytest.mark.e2e


def _config(server: BedrockServer, profile: str) -> dict[str, object]:
    return {
        "providers": [
            {
                "name": "bedrock",
                "kind": "bedrock",
                "region": REGION,
                "base_url": server.base_url,
                "aws_profile": profile,
            }
        ],
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "models": [{"id": "test/llama", "channels": [{"provider": "bedrock", "model": LLAMA}]}],
    }


def _ask(gw: GatewayProcess) -> anthropic.types.Message:
    with anthropic.Anthropic(
        base_url=gw.url + "/anthropic", api_key=CLIENT_KEY, max_retries=0
    ) as client:
        return client.messages.create(
            model="test/llama", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


def test_credentials_from_a_profile_in_the_shared_credentials_file(tmp_path: Path) -> None:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDWRONGDEFAULT\naws_secret_access_key = nope\n\n"
        f"[work]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    with (
        BedrockServer() as server,
        GatewayProcess(_config(server, "work"), env=clean_env(tmp_path), inherit_env=False) as gw,
    ):
        message = _ask(gw)
        assert message.content[0].type == "text"
        assert server.refused == 0
        assert (
            server.received[0]
            .headers["authorization"]
            .startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
        )


def test_a_missing_profile_is_a_clear_error(tmp_path: Path) -> None:
    with (
        BedrockServer() as server,
        GatewayProcess(_config(server, "absent"), env=clean_env(tmp_path), inherit_env=False) as gw,
    ):
        with pytest.raises(anthropic.APIStatusError) as caught:
            _ask(gw)
        assert caught.value.status_code == 502
        assert "no usable AWS credentials (ProfileNotFound)" in str(caught.value)
        assert server.received == []
