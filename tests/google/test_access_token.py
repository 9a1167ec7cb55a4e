"""Vertex access tokens (upstreams/google_auth.py) against a token endpoint on loopback: fetched
once, refreshed in the background near expiry while the old one is still used, and a refused
grant reported without the credentials."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from switchboard.config import ProviderConfig
from switchboard.errors import UpstreamError
from switchboard.kinds import ProviderKind
from switchboard.redact import Redactor
from switchboard.upstreams.google_auth import AccessToken
from tests.support.gemini_wire import service_account, token_reply
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.replies import JsonReply


def provider(credentials: Path) -> ProviderConfig:
    return ProviderConfig(
        name="vx", kind=ProviderKind.VERTEX, project="p", credentials_file=str(credentials)
    )


def test_a_token_near_expiry_is_refreshed_in_the_background(tmp_path: Path) -> None:
    with ScriptedUpstream() as server:
        credentials = service_account(tmp_path / "sa.json", server.base_url + "/token")
        # 280 s left is inside the refresh margin: the next use refreshes, without waiting.
        server.enqueue(token_reply("ya29.first", expires_in=280), token_reply("ya29.second"))
        token = AccessToken(provider(credentials), Redactor())

        async def run() -> tuple[str, str, str]:
            first = await token.get()
            started = time.monotonic()
            still = await token.get()  # the old token at once; the refresh runs behind it
            assert time.monotonic() - started < 0.05
            for _ in range(200):
                if len(server.received) == 2:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            return first, still, await token.get()

        first, still, later = asyncio.run(run())
        assert (first, still, later) == ("ya29.first", "ya29.first", "ya29.second")
        assert len(server.received) == 2


def test_a_refused_grant_is_an_upstream_error_without_the_key(tmp_path: Path) -> None:
    with ScriptedUpstream() as server:
        credentials = service_account(tmp_path / "sa.json", server.base_url + "/token")
        server.enqueue(
            JsonReply(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status=400,
            )
        )
        token = AccessToken(provider(credentials), Redactor())
        with pytest.raises(UpstreamError) as err:
            asyncio.run(token.get())
    message = str(err.value)
    assert "could not get an access token" in message
    assert "invalid_grant" in message
    assert "PRIVATE KEY" not in message
    assert err.value.retryable
