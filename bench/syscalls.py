"""System calls per request: each revision of Switchboard under `strace -c -f` for a fixed
number of requests (attached after a warm-up), the counts per call divided by the requests.
Kernel time is where callgrind (`bench/run instr`) cannot look, and system calls on a VM are
dear.

    bench/run syscalls --revs 05b812e,main,WORKTREE [--scenario 1k] [--requests 2000]"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import time
from pathlib import Path

from bench.ab import WORKTREE
from bench.gateways import Context, start_switchboard
from bench.instr import each_revision, send
from bench.loadgen import Target
from bench.procs import TICK

_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def threads(pid: int) -> dict[str, float]:
    """CPU seconds of a process, user and system apart, for its main thread (the event loop)
    and for all its other threads together (the access log's, the ledger driver's ...)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        who = "main" if task.name == str(pid) else "others"
        for kind, i in (("user", 11), ("sys", 12)):
            out[f"{who}:{kind}"] = out.get(f"{who}:{kind}", 0.0) + int(fields[i]) / TICK
    return out


def measure(ctx: Context, src: Path, name: str, args: argparse.Namespace) -> dict[str, float]:
    gw = start_switchboard(ctx, src=src, name=name)
    target = Target.of(gw.target())
    out = ctx.workdir / f"{name}.strace"
    try:
        gw.proc.pin_all()
        asyncio.run(send(target, args.scenario, args.warmup, args.concurrency))
        before = threads(gw.proc.pid)
        asyncio.run(send(target, args.scenario, args.requests, args.concurrency))
        after = threads(gw.proc.pid)
        tracer = subprocess.Popen(
            ["strace", "-c", "-f", "-o", str(out), "-p", str(gw.proc.pid)],
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached to every thread
        ok = asyncio.run(send(target, args.scenario, args.requests, args.concurrency))
        tracer.send_signal(signal.SIGINT)
        tracer.wait(60)
    finally:
        gw.proc.stop()
    calls: dict[str, float] = {}
    for line in out.read_text().splitlines():
        row = _ROW.match(line)
        if row and row.group(2) != "total":
            calls[row.group(2)] = int(row.group(1)) / max(ok, 1)
    calls["total"] = sum(calls.values())
    cpu = {
        f"cpu_us_per_req:{t}": (after[t] - before.get(t, 0.0)) / args.requests * 1e6
        for t in after
        if after[t] > before.get(t, 0.0)
    }
    return cpu | dict(sorted(calls.items(), key=lambda kv: -kv[1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--revs", default=f"HEAD,{WORKTREE}", help="comma-separated git revisions")
    p.add_argument("--scenario", default="1k")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=32)
    each_revision("syscalls", p.parse_args(), measure)


if __name__ == "__main__":
    main()
