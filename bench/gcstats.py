"""The cyclic garbage collector's share of a request: each revision of Switchboard with its
collector passes timed (bench/gc_trace.py), the same requests sent to each. A full (gen-2)
pass comes every few thousand requests, so `instr` and `opcodes`, which count a few hundred,
never see one; its cost grows with what the collector tracks.

    bench/run gcstats --revs 05b812e,main,WORKTREE [--scenario 1k] [--requests 20000]

Prints per revision the passes and milliseconds per generation, the collector's microseconds
per request, and the objects it tracks (and how many `gc.freeze` put out of its sight)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson

from bench.ab import WORKTREE
from bench.gateways import Context, start_switchboard
from bench.instr import each_revision, send
from bench.loadgen import Target

TRACER = Path(__file__).with_name("gc_trace.py")


def measure(ctx: Context, src: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    out = ctx.workdir / f"{name}.gc.json"
    gw = start_switchboard(
        ctx, src=src, name=name, start_timeout=120, interpreter_args=[str(TRACER), str(out)]
    )
    target = Target.of(gw.target())
    try:
        gw.proc.pin_all()
        asyncio.run(send(target, args.scenario, args.warmup, args.concurrency))
        os.kill(gw.proc.pid, signal.SIGUSR1)
        time.sleep(0.2)
        ok = asyncio.run(send(target, args.scenario, args.requests, args.concurrency))
    finally:
        gw.proc.stop()
    found: dict[str, Any] = orjson.loads(out.read_bytes())
    return {
        "answered": ok,
        "passes": found["passes"],
        "ms": [round(s * 1000, 1) for s in found["seconds"]],
        "gc_us_per_req": round(sum(found["seconds"]) / max(ok, 1) * 1e6, 2),
        "tracked": found["tracked"],
        "frozen": found["frozen"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--revs", default=f"HEAD,{WORKTREE}", help="comma-separated git revisions")
    p.add_argument("--scenario", default="1k")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=32)
    each_revision("gcstats", p.parse_args(), measure)


if __name__ == "__main__":
    main()
