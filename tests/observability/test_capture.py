"""Request capture, end to end: a real gateway on SQLite captures the chosen key's requests,
redacted, and `switchboard requests show` prints them; old captures are deleted by the gateway."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pytest
import yaml

from tests.console.console_client import ConsoleClient
from tests.support.gateway import GatewayProcess, free_port
from tests.support.mock_upstream import ScriptedUpstream, openai_completion, openai_stream

MASTER_KEY = "sk-capture-master-key-1234"
CAPTURED_KEY = "sk-capture-client-key-5678"
OTHER_KEY = "sk-capture-other-key-9999"
UPSTREAM_KEY = "sk-capture-upstream-key-9012"


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Path:
    home = tmp_path_factory.mktemp("capture")
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: connection refused
    config: dict[str, Any] = {
        "master_key": MASTER_KEY,
        "database": f"sqlite:///{home / 'gw.db'}",
        "routing": {"max_retry_seconds": 1, "backoff_seconds": 5},
        "capture": {"keys": ["captured"], "retention_days": 1, "redact": [r"forty-\w+"]},
        "providers": [
            {
                "name": "up",
                "kind": "openai",
                "base_url": upstream.openai_base,
                "api_key": UPSTREAM_KEY,
            },
            {"name": "dead", "kind": "openai", "base_url": dead},
        ],
        "keys": [{"name": "captured", "key": CAPTURED_KEY}, {"name": "other", "key": OTHER_KEY}],
        "models": [
            {
                "id": "test/kimi",
                "aliases": ["claude-*"],
                "pricing": {"input": 1.0, "output": 2.0},
                "channels": [
                    {"provider": "dead", "model": "gone-first", "priority": 0},
                    {"provider": "up", "model": "kimi-k2", "priority": 1},
                ],
            }
        ],
    }
    path = home / "gw.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _cli(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args, "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _old_capture(config_file: Path) -> None:
    """A capture two days old, put in the database before the gateway starts."""
    assert _cli(config_file, "db", "upgrade").returncode == 0
    database = yaml.safe_load(config_file.read_text())["database"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        at = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
        db.execute(
            "INSERT INTO captures VALUES ('req_old', ?, NULL, 'm', 200, '{}', '[]', '')", (at,)
        )


@pytest.fixture(scope="module")
def gateway(config_file: Path) -> Iterator[GatewayProcess]:
    _old_capture(config_file)
    with GatewayProcess(config_file) as gw:
        yield gw
    output = gw.output()
    for secret in (MASTER_KEY, CAPTURED_KEY, UPSTREAM_KEY):
        assert secret not in output


def _show(config_file: Path, request_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The capture as `switchboard requests show --json` prints it (the writer stores it
    within a second)."""
    deadline = time.monotonic() + timeout
    while True:
        done = _cli(config_file, "requests", "show", request_id, "--json")
        if done.returncode == 0:
            shown: dict[str, Any] = json.loads(done.stdout)
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(done.stderr)
        time.sleep(0.2)


def test_a_captured_request_shows_both_sides_and_every_attempt_redacted(
    gateway: GatewayProcess, upstream: ScriptedUpstream, config_file: Path
) -> None:
    # The upstream quotes its key back, as some providers do in errors: not stored.
    upstream.enqueue(openai_completion(f"the answer; echo {UPSTREAM_KEY}", usage=(12, 5)))
    with anthropic.Anthropic(base_url=gateway.url, api_key=CAPTURED_KEY, max_retries=0) as c:
        raw = c.messages.with_raw_response.create(
            model="claude-sonnet-4-5",
            max_tokens=50,
            messages=[{"role": "user", "content": "the secret is forty-two, keep it"}],
        )
    request_id = raw.headers["request-id"]
    shown = _show(config_file, request_id)

    assert shown["model"] == "claude-sonnet-4-5"
    assert shown["status"] == 200
    client = shown["client_request"]
    credential = client["headers"].get("x-api-key") or client["headers"]["authorization"]
    assert credential == "[redacted]"
    body = json.loads(client["body"])
    assert body["messages"][0]["content"] == "the secret is [redacted], keep it"
    # Two attempts: the dead channel (no reply), then the one that answered.
    first, second = shown["upstream"]
    assert first["status"] == 0
    assert first["url"].endswith("/v1/chat/completions")
    assert second["status"] == 200
    assert second["headers"]["authorization"] == "[redacted]"
    sent = json.loads(second["request"])
    assert sent["model"] == "kimi-k2"
    assert "[redacted]" in sent["messages"][-1]["content"]
    assert "the answer" in second["response"]
    assert "the answer" in shown["client_response"]
    everything = json.dumps(shown)
    for secret in (UPSTREAM_KEY, CAPTURED_KEY, "forty-two"):
        assert secret not in everything


def test_a_captured_stream_keeps_the_events_both_ways(
    gateway: GatewayProcess, upstream: ScriptedUpstream, config_file: Path
) -> None:
    upstream.enqueue(openai_stream(["str", "eam"], usage=(7, 2)))
    c = anthropic.Anthropic(base_url=gateway.url, api_key=CAPTURED_KEY, max_retries=0)
    with (
        c,
        c.messages.with_streaming_response.create(
            model="claude-sonnet-4-5",
            max_tokens=50,
            stream=True,
            messages=[{"role": "user", "content": "hi"}],
        ) as response,
    ):
        request_id = response.headers["request-id"]
        text = response.read().decode()
    assert "eam" in text
    shown = _show(config_file, request_id)
    upstream_events = shown["upstream"][-1]["response"]
    assert 'data: {"id"' in upstream_events  # the upstream's chat-completion chunks
    assert "event: message_stop" in shown["client_response"]  # what the client got
    assert '"eam"' in shown["client_response"]


def test_other_keys_are_not_captured_and_old_captures_are_deleted(
    gateway: GatewayProcess, upstream: ScriptedUpstream, config_file: Path
) -> None:
    upstream.enqueue(openai_completion("not kept"))
    with anthropic.Anthropic(base_url=gateway.url, api_key=OTHER_KEY, max_retries=0) as c:
        raw = c.messages.with_raw_response.create(
            model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    time.sleep(1.5)  # more than the writer's flush interval
    missing = _cli(config_file, "requests", "show", raw.headers["request-id"])
    assert missing.returncode == 1
    assert "no captured request" in missing.stderr
    # The two-day-old capture was deleted when the gateway started (retention: one day).
    assert _cli(config_file, "requests", "show", "req_old").returncode == 1
    listed = _cli(config_file, "requests", "list", "--json")
    assert listed.returncode == 0
    assert "req_old" not in listed.stdout


def test_the_console_shows_a_captured_request_escaped(
    gateway: GatewayProcess, upstream: ScriptedUpstream, config_file: Path
) -> None:
    upstream.enqueue(openai_completion("<script>alert(1)</script> is what came back"))
    with anthropic.Anthropic(base_url=gateway.url, api_key=CAPTURED_KEY, max_retries=0) as c:
        raw = c.messages.with_raw_response.create(
            model="claude-sonnet-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    request_id = raw.headers["request-id"]
    _show(config_file, request_id)  # stored
    console = ConsoleClient(gateway.url)
    try:
        assert console.sign_in(MASTER_KEY).status_code == 303
        page = console.http.get(f"/console/requests/{request_id}")
    finally:
        console.close()
    assert page.status_code == 200
    assert 'id="capture"' in page.text
    assert "Upstream attempt 1" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is what came back" in page.text
    assert "<script>alert(1)" not in page.text
