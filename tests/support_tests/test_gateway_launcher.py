"""GatewayProcess against a stand-in server script (the real gateway CLI is tested elsewhere)."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.gateway import GatewayProcess, GatewayStartError

from .http_client import request

FAKE = [sys.executable, str(Path(__file__).with_name("fake_gateway_app.py"))]


def fake(
    config: Mapping[str, object] | None,
    mode: str = "ok",
    cwd: Path | None = None,
    inherit_env: bool = True,
) -> GatewayProcess:
    env = {"FAKE_GATEWAY_MODE": mode, "FAKE_GATEWAY_SECRET": "s3cr3t"}
    return GatewayProcess(config, env=env, cwd=cwd, argv_prefix=FAKE, inherit_env=inherit_env)


def test_start_serves_config_and_captures_output(tmp_path: Path) -> None:
    config = {"listen": {"port": 1}, "upstreams": [{"name": "u", "base_url": "http://x"}]}
    gw = fake(config, cwd=tmp_path)
    with gw:
        assert gw.url == f"http://127.0.0.1:{gw.port}"
        state = request("GET", gw.url + "/state").json()
        assert state["config"] == config
        assert state["cwd"] == str(tmp_path)
        assert state["argv"][0] == "serve"
        assert state["argv"][-4:] == ["--host", "127.0.0.1", "--port", str(gw.port)]
        assert gw.config_path is not None
        assert gw.config_path.exists()
        config_path = gw.config_path
        deadline = time.monotonic() + 5
        while "secret=s3cr3t" not in gw.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert f"listening on 127.0.0.1:{gw.port}" in gw.output()
        assert "secret=s3cr3t" in gw.output()  # stderr is merged in
    assert gw.returncode == 0
    assert "bye" in gw.output()  # output after SIGTERM is captured too
    assert not config_path.exists()


def test_no_config_omits_flag() -> None:
    with fake(None) as gw:
        state = request("GET", gw.url + "/state").json()
    assert state["config"] is None
    assert "--config" not in state["argv"]
    assert gw.config_path is None


def test_inherit_env_false_passes_only_path_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_ONLY_SECRET", "leak")
    with fake(None, inherit_env=False) as gw:
        keys = request("GET", gw.url + "/state").json()["env_keys"]
    assert "HOST_ONLY_SECRET" not in keys
    assert {"PATH", "PYTHONUNBUFFERED", "FAKE_GATEWAY_MODE"} <= set(keys)
    with fake(None) as gw:
        assert "HOST_ONLY_SECRET" in request("GET", gw.url + "/state").json()["env_keys"]


def test_exit_before_healthy_raises_with_output() -> None:
    gw = fake({"a": 1}, mode="exit")
    with pytest.raises(GatewayStartError, match="exited with 3") as caught:
        gw.start(timeout=10)
    assert "boom: bad config" in str(caught.value)
    assert gw.returncode == 3


def test_never_healthy_times_out_and_stops_process() -> None:
    gw = fake(None, mode="unhealthy")
    started = time.monotonic()
    with pytest.raises(GatewayStartError, match="not healthy") as caught:
        gw.start(timeout=1.0)
    assert time.monotonic() - started < 8
    assert "listening on" in str(caught.value)
    assert gw.returncode is not None


def test_stop_kills_when_sigterm_is_ignored() -> None:
    gw = fake(None, mode="ignore_term").start()
    assert gw.returncode is None
    assert gw.stop(timeout=0.5) == -signal.SIGKILL
    assert gw.stop() == -signal.SIGKILL  # idempotent


def test_lifecycle_errors() -> None:
    gw = fake(None)
    with pytest.raises(RuntimeError, match="not started"):
        _ = gw.url
    assert gw.stop() is None
    with gw, pytest.raises(RuntimeError, match="already started"):
        gw.start()


def test_a_config_file_a_log_file_and_extra_arguments(tmp_path: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("listen: {port: 1}\n")
    log = tmp_path / "gw.log"
    env = {"FAKE_GATEWAY_MODE": "ok", "FAKE_GATEWAY_SECRET": "s3cr3t"}
    gw = GatewayProcess(
        config, env=env, argv_prefix=FAKE, log_path=log, extra_args=["--workers", "2"]
    )
    with gw:
        state = request("GET", gw.url + "/state").json()
        assert state["config"] == {"listen": {"port": 1}}
        assert gw.config_path == config
        assert state["argv"][-2:] == ["--workers", "2"]
        assert gw.proc.pid == gw.pid
        deadline = time.monotonic() + 5
        while "secret=s3cr3t" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "secret=s3cr3t" in gw.output()
    assert "bye" in log.read_text()
    assert config.exists()  # the test's own file is left alone
