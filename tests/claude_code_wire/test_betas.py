"""Beta flags per upstream, on pass-through: an Anthropic-dialect upstream that answers 400 for a
flag it does not know (as other vendors' Anthropic endpoints do) is sent only its allow-list
(`betas:`); the flags left out are reported in `switchboard-dropped` and the ledger's dropped
column; a provider without a list gets every flag, as Anthropic does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.claude_code_wire.ledgered import ledgered_gateway, new_key
from tests.support.mock_upstream import (
    Received,
    Reply,
    ScriptedUpstream,
    anthropic_error,
    anthropic_message,
    anthropic_stream,
)
from tests.support.stream_validator import validate_anthropic_stream
from tests.tenancy.gateway import Gateway

CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "advanced-tool-use-2025-11-20,effort-2025-11-24"
)
KNOWN = ("interleaved-thinking-2025-05-14", "effort-2025-11-24")


def vendor(request: Received) -> Reply:
    """A vendor's Anthropic endpoint: 400 for any flag it does not know, in Anthropic's words."""
    flags = [f.strip() for f in request.headers.get("anthropic-beta", "").split(",") if f.strip()]
    unknown = [f for f in flags if f not in KNOWN]
    if unknown:
        return anthropic_error(
            400,
            "invalid_request_error",
            f"Unexpected value(s) `{','.join(unknown)}` for the "
            "`anthropic-beta` header. Please consult our documentation at docs.anthropic.com "
            "or try again without the header.",
        )
    body: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
    return anthropic_stream(["ok"]) if body.get("stream") else anthropic_message("ok")


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream(responder=vendor) as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("betas")
    base = upstream.anthropic_base
    assert base.startswith("http://127.0.0.1:")
    config = {
        "providers": [
            {
                "name": "vendor",
                "kind": "anthropic",
                "base_url": base,
                "api_key": "k",
                "betas": list(KNOWN),
            },
            {"name": "open", "kind": "anthropic", "base_url": base, "api_key": "k"},
        ],
        "models": [
            {
                "id": model,
                "channels": [{"provider": provider, "model": "vendor-model"}],
                "pricing": {"input": 1.0, "output": 2.0},
            }
            for model, provider in (("vendor-model", "vendor"), ("open-model", "open"))
        ],
    }
    with ledgered_gateway(tmp, **config) as gw:
        yield gw


def _post(gateway: Gateway, key: str, model: str, stream: bool) -> httpx.Response:
    body = {
        "model": model,
        "max_tokens": 16,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {
        "x-api-key": key,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": CLAUDE_CODE_BETAS,
    }
    return httpx.post(
        gateway.url + "/anthropic/v1/messages",
        json=body,
        headers=headers,
        timeout=30,
        trust_env=False,
    )


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> tuple[str, str]:
    return new_key(gateway, "betas")


@pytest.mark.parametrize("stream", [False, True])
def test_only_the_flags_the_upstream_takes_are_sent_and_the_rest_reported(
    gateway: Gateway, upstream: ScriptedUpstream, key: tuple[str, str], stream: bool
) -> None:
    before = len(upstream.received)
    resp = _post(gateway, key[1], "vendor-model", stream)
    assert resp.status_code == 200, resp.text
    if stream:
        validate_anthropic_stream(resp.text)
    sent = upstream.received[before:]
    assert [r.headers.get("anthropic-beta") for r in sent] == [",".join(KNOWN)]
    dropped = resp.headers["switchboard-dropped"]
    for flag in (
        "claude-code-20250219",
        "context-management-2025-06-27",
        "advanced-tool-use-2025-11-20",
    ):
        assert f"anthropic-beta {flag} (not taken by vendor)" in dropped
    assert "interleaved-thinking" not in dropped


def test_without_a_list_every_flag_goes_through(
    gateway: Gateway, upstream: ScriptedUpstream, key: tuple[str, str]
) -> None:
    """As to Anthropic itself: which is what a vendor refuses, hence the list."""
    before = len(upstream.received)
    resp = _post(gateway, key[1], "open-model", False)
    assert upstream.received[before].headers.get("anthropic-beta") == CLAUDE_CODE_BETAS
    assert resp.status_code == 400
    assert "anthropic-beta" in resp.json()["error"]["message"]


def test_the_ledger_names_the_flags_left_out(gateway: Gateway, key: tuple[str, str]) -> None:
    _post(gateway, key[1], "vendor-model", False)
    deadline = time.monotonic() + 15
    while True:
        status, body = gateway.admin("GET", f"/admin/usage?key={key[0]}&limit=100")
        assert status == 200
        rows = [r for r in body["data"] if r["status"] == 200]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert rows
    assert "anthropic-beta claude-code-20250219 (not taken by vendor)" in rows[0]["dropped"]


def test_check_accepts_the_list_and_refuses_a_bad_flag(tmp_path: Path) -> None:
    from switchboard.config import ConfigError, load_config

    good = {
        "providers": [
            {
                "name": "a",
                "kind": "anthropic",
                "base_url": "http://127.0.0.1:1",
                "betas": ["effort-2025-11-24"],
            }
        ],
        "models": [],
    }
    path = tmp_path / "good.yaml"
    path.write_text(json.dumps(good))
    assert load_config(path).providers[0].betas == ["effort-2025-11-24"]
    good["providers"][0]["betas"] = ["bad flag\r\nx: y"]
    path.write_text(json.dumps(good))
    with pytest.raises(ConfigError, match=r"providers\[0\]\.betas\[0\]"):
        load_config(path)
