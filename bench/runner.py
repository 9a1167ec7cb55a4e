"""Running one load-generator job pinned to the rig's core while sampling the gateway (CPU time,
peak RSS) and the upstream (CPU time) between the job's `start` and `done` lines."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from bench.gateways import REPO, RIG_CPUS
from bench.procs import Proc


class Rig:
    def __init__(self, python: Path, upstream: Proc, upstream_port: int) -> None:
        self.python = python
        self.upstream = upstream
        self.upstream_port = upstream_port

    def direct(self, dialect: str = "openai") -> dict[str, Any]:
        """Straight to the upstream: the same body, to the upstream's route for `dialect`."""
        path = "/v1/chat/completions" if dialect == "openai" else "/v1/messages"
        return {
            "port": self.upstream_port,
            "path": path,
            "dialect": dialect,
            "model": "bench-upstream",
        }

    def run(
        self,
        job: dict[str, Any],
        gateway: Proc | None = None,
        *,
        timeout: float = 300,
        sample_rss: bool = False,
    ) -> dict[str, Any]:
        cmd = ["taskset", "-c", RIG_CPUS, str(self.python), "-m", "bench.loadgen"]
        proc = subprocess.Popen(
            [*cmd, orjson.dumps(job).decode()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        meta: dict[str, Any] = {}
        pids = gateway.tree() if gateway is not None else []
        peak = [0]
        stop = threading.Event()

        def poll_rss() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _rss(pids))
                stop.wait(0.05)

        poller: threading.Thread | None = None
        last = b""
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line == b"start\n":
                    meta["t0"] = time.monotonic()
                    meta["up0"] = self.upstream.cpu_seconds()
                    if gateway is not None:
                        meta["gw0"] = gateway.cpu_seconds()
                    if sample_rss and gateway is not None:
                        poller = threading.Thread(target=poll_rss, daemon=True)
                        poller.start()
                elif line == b"done\n":
                    wall = time.monotonic() - meta.pop("t0")
                    meta["wall_s"] = wall
                    meta["upstream_cpu_s"] = self.upstream.cpu_seconds() - meta.pop("up0")
                    if gateway is not None:
                        meta["gateway_cpu_s"] = gateway.cpu_seconds() - meta.pop("gw0")
                    stop.set()
                else:
                    last = line
            proc.wait(30)
        finally:
            killer.cancel()
            stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        if poller is not None:
            poller.join(1)
            meta["rss_peak"] = peak[0]
        if proc.returncode != 0 or not last.strip():
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"load generator failed ({proc.returncode}): {err}")
        result: dict[str, Any] = orjson.loads(last)
        if "wall_s" in meta:
            rig = meta["upstream_cpu_s"] + result.get("loadgen_cpu_s", 0.0)
            meta["rig_cpu_s"] = rig
            meta["rig_core_share"] = rig / meta["wall_s"] if meta["wall_s"] > 0 else 0.0
            if "gateway_cpu_s" in meta:
                meta["gateway_core_share"] = meta["gateway_cpu_s"] / meta["wall_s"]
        result["meta"] = meta
        return result


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1])
        except OSError:
            continue
    return total * _PAGE


_PAGE = os.sysconf("SC_PAGE_SIZE")
