"""Instructions per request: each revision of Switchboard under Valgrind's callgrind, the same
requests sent to each, the instructions executed between two points read from callgrind's
counters. CPU time on a shared machine moves by a quarter from one run to the next; an
instruction count does not (the same revision gives the same count within a fraction of a
percent), so it finds where CPU went between revisions when `ab` cannot.

    bench/run instr --revs 05b812e,main,WORKTREE [--scenario 1k|90k] [--requests 300]

Requests go one batch at a time (`--concurrency` in flight) over kept-alive connections. Work
that runs on a timer rather than per request (sweeps, the key-change poll) is counted too and
inflated, since everything runs ~50x slower under Valgrind: the idle instructions per second
are measured and reported, so they can be taken out."""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.ab import WORKTREE, export, rig
from bench.gateways import Context, start_switchboard
from bench.loadgen import Target, connect, exchange


def counters(pid: int) -> tuple[int, int]:
    """The instructions (Ir) callgrind has counted in `pid` since the last zero: all threads,
    and the main thread's (the event loop's) alone. Valgrind runs one thread at a time, so how
    much of the writer threads' work (the access log, the ledger's driver) falls inside a
    window varies from run to run; the main thread's count does not."""
    out = subprocess.run(
        ["callgrind_control", "-e", "Ir", str(pid)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.findall(r"^\s*Th\s*(\d+)\s+([\d,]+)\s*$", out, re.MULTILINE)
    if not found:
        raise RuntimeError(f"no Ir counter in callgrind_control's output: {out!r}")
    counts = {int(th): int(n.replace(",", "")) for th, n in found}
    return sum(counts.values()), counts.get(1, 0)


def zero(pid: int) -> None:
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, timeout=120)


async def send(target: Target, scenario: str, n: int, concurrency: int) -> int:
    """`n` requests, `concurrency` at a time; how many got a 200."""
    payload = target.request(scenario)
    conns = [await connect(target.port) for _ in range(concurrency)]
    ok = 0
    for start in range(0, n, concurrency):
        batch = conns[: min(concurrency, n - start)]
        results = await asyncio.gather(*(exchange(c, payload, timeout=300) for c in batch))
        ok += sum(1 for r in results if r.status == 200)
    for c in conns:
        c.close()
    return ok


def measure(ctx: Context, src: Path, name: str, args: argparse.Namespace) -> dict[str, float]:
    out = ctx.workdir / f"{name}.callgrind"
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    gw = start_switchboard(ctx, src=src, name=name, prefix=prefix, start_timeout=600)
    pid = gw.proc.pid
    target = Target.of(gw.target())
    try:
        asyncio.run(send(target, args.scenario, args.warmup, args.concurrency))
        zero(pid)
        t0 = time.monotonic()
        time.sleep(args.idle)
        idle_total, idle_main = counters(pid)
        idle = idle_total / (time.monotonic() - t0)
        idle_main_rate = idle_main / (time.monotonic() - t0)
        zero(pid)
        t0 = time.monotonic()
        ok = asyncio.run(send(target, args.scenario, args.requests, args.concurrency))
        total, main = counters(pid)
        elapsed = time.monotonic() - t0
    finally:
        gw.proc.stop()
        out.unlink(missing_ok=True)
    if ok != args.requests:
        raise RuntimeError(f"{name}: {ok} of {args.requests} requests answered 200")
    return {
        "instr_per_req": total / ok,
        "instr_per_req_without_idle": (total - idle * elapsed) / ok,
        "idle_instr_per_s": idle,
        "main_thread_per_req_without_idle": (main - idle_main_rate * elapsed) / ok,
        "seconds": elapsed,
    }


Measure = Callable[[Context, Path, str, argparse.Namespace], dict[str, Any]]


def each_revision(kind: str, args: argparse.Namespace, measure: Measure) -> None:
    """`measure` for each of `--revs`, one after the other; the summary as JSON."""
    summary: dict[str, dict[str, Any]] = {}
    with rig(kind) as (ctx, _):
        for i, rev in enumerate(args.revs.split(",")):
            summary[rev] = measure(ctx, export(rev, ctx.cache), f"{kind}-{i}", args)
            print(f"{rev}: {summary[rev]}", file=sys.stderr, flush=True)
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--revs", default=f"HEAD,{WORKTREE}", help="comma-separated git revisions")
    p.add_argument("--scenario", default="1k")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--idle", type=float, default=5.0, help="seconds of idle counting")
    each_revision("instr", p.parse_args(), measure)


if __name__ == "__main__":
    main()
