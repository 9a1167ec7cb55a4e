"""Run the real gateway (``python -m switchboard serve``) as a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml


class GatewayStartError(RuntimeError):
    """The gateway exited or never became healthy; the message includes its output."""


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago.

    The child binds it itself, so another process could grab it in between; that race is
    accepted here because the child then exits and start() reports it with the output.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# No proxy handler: an http_proxy variable in the environment must not reroute loopback checks.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class GatewayProcess:
    """One gateway subprocess bound to 127.0.0.1 on a free port.

    ``env`` entries are added on top of the current environment, or on top of just PATH when
    ``inherit_env`` is False (so host API keys cannot leak into a test). ``argv_prefix`` replaces
    ``[sys.executable, "-m", "switchboard"]`` (the launcher's own tests use a stand-in server);
    the ``serve --config ... --host ... --port ...`` arguments are always appended.

    ``config`` is a mapping (written to a temporary YAML file), the path of a YAML file the test
    wrote itself (and hands to the CLI too), or None (the gateway's defaults). ``log_path``
    sends the output to that file instead of a pipe; output() reads it either way.
    ``extra_args`` go after the serve arguments (e.g. ``--workers 2``).
    """

    def __init__(
        self,
        config: Mapping[str, Any] | Path | None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        argv_prefix: Sequence[str] | None = None,
        health_path: str = "/health",
        inherit_env: bool = True,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.config = config
        self._env = dict(env or {})
        self._inherit_env = inherit_env
        self._cwd = cwd
        self._argv_prefix = list(argv_prefix or [sys.executable, "-m", "switchboard"])
        self._health_path = health_path
        self.log_path = log_path
        self._extra_args = list(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._tmpdir: Path | None = None
        self.port: int | None = None
        self.config_path: Path | None = None
        self.argv: list[str] = []

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("gateway not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The gateway process's id (tests read its memory from /proc)."""
        if self._proc is None:
            raise RuntimeError("gateway not started")
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("gateway not started")
        return self._proc

    def output(self) -> str:
        """Combined stdout+stderr so far (undecodable bytes are replaced, never dropped)."""
        if self.log_path is not None:
            return self.log_path.read_bytes().decode("utf-8", errors="replace")
        with self._lock:
            return b"".join(self._chunks).decode("utf-8", errors="replace")

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        if self._proc is not None:
            raise RuntimeError("gateway already started")
        self._tmpdir = Path(tempfile.mkdtemp(prefix="switchboard-test-"))
        self.port = free_port()
        args = ["serve"]
        if isinstance(self.config, Path):
            self.config_path = self.config
            args += ["--config", str(self.config_path)]
        elif self.config is not None:
            self.config_path = self._tmpdir / "config.yaml"
            self.config_path.write_text(yaml.safe_dump(dict(self.config), sort_keys=False))
            args += ["--config", str(self.config_path)]
        args += ["--host", "127.0.0.1", "--port", str(self.port), *self._extra_args]
        self.argv = [*self._argv_prefix, *args]
        # Unbuffered so output() shows log lines as they are written, not at exit.
        base = dict(os.environ) if self._inherit_env else {"PATH": os.environ.get("PATH", "")}
        # The gateway honours HTTP(S)_PROXY: a proxy set on this host must not carry a test's
        # loopback traffic (a test that means a proxy passes the variables in `env`).
        base = {k: v for k, v in base.items() if not k.lower().endswith("_proxy")}
        # Files the gateway keeps by default (SQLite, the master key) go in its working
        # directory, never in the user's own data directory.
        home = str(self._cwd or self._tmpdir)
        env = {**base, "PYTHONUNBUFFERED": "1", "SWITCHBOARD_HOME": home, **self._env}
        if self.log_path is not None:
            with self.log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._cwd or self._tmpdir,
                    env=env,
                )
        else:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self._cwd or self._tmpdir,  # a default SQLite file lands there, not the repo
                env=env,
            )
            assert self._proc.stdout is not None  # stdout=PIPE above
            self._reader = threading.Thread(
                target=self._collect,
                args=(self._proc.stdout.fileno(),),
                name="gateway-output",
                daemon=True,
            )
            self._reader.start()
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _collect(self, fd: int) -> None:
        # os.read returns whatever is available, so partial lines show up in output() promptly.
        try:
            while chunk := os.read(fd, 65536):
                with self._lock:
                    self._chunks.append(chunk)
        except OSError:
            # stop() closed the pipe under us after giving up waiting for EOF.
            return

    def _wait_healthy(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        health = self.url + self._health_path
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._join_reader()
                raise GatewayStartError(
                    f"gateway exited with {self._proc.returncode} before becoming healthy; "
                    f"argv={self.argv}\n--- output ---\n{self.output()}"
                )
            if _is_healthy(health):
                return
            time.sleep(0.05)
        raise GatewayStartError(
            f"gateway not healthy at {health} after {timeout}s; argv={self.argv}\n"
            f"--- output ---\n{self.output()}"
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Returns the exit code."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._join_reader()
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        return None if proc is None else proc.returncode

    def _join_reader(self) -> None:
        # A grandchild holding the pipe open would block EOF forever; don't hang the test run.
        if self._reader is not None:
            self._reader.join(timeout=5.0)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _is_healthy(url: str) -> bool:
    try:
        with _OPENER.open(url, timeout=1.0) as resp:
            status: int = resp.status
            return status == 200
    except urllib.error.HTTPError as exc:
        exc.close()
        return False
    except OSError:
        return False
