"""Bytecode instructions per request, by Python function: each revision of Switchboard with a
trace function that counts every instruction its event loop's thread executes (bench/
opcode_trace.py), the same requests sent to each. Exact and the same from run to run, so it
names the functions a change made dearer, where `instr` (Valgrind) gives one total and py-spy's
samples move by a third between runs. The trace makes the gateway ~20x slower; counts, not
times, are what it gives.

    bench/run opcodes --revs e617866,main,WORKTREE [--scenario 1k] [--requests 300] [--top 40]

Prints per revision the instructions and Python calls per request, then the functions that
run the most (one revision) or, for the last two revisions, the functions whose count moved
most, matched by qualified name (a function moved to another module is the same function;
same-named ones of two modules are summed)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import orjson

from bench.ab import WORKTREE, export, rig
from bench.gateways import Context, start_switchboard
from bench.instr import send
from bench.loadgen import Target

TRACER = Path(__file__).with_name("opcode_trace.py")
Counts = tuple[Counter[str], Counter[str]]


def _name(path: str, function: str) -> str:
    for marker in ("/src/", "/site-packages/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return function if path.startswith("switchboard/") else f"{path}:{function}"


def measure(ctx: Context, src: Path, name: str, args: argparse.Namespace) -> Counts:
    out = ctx.workdir / f"{name}.opcodes.json"
    # `python bench/opcode_trace.py OUT -m switchboard serve ...`: the tracer runs the gateway.
    gw = start_switchboard(
        ctx, src=src, name=name, start_timeout=120, interpreter_args=[str(TRACER), str(out)]
    )
    target = Target.of(gw.target())
    try:
        asyncio.run(send(target, args.scenario, args.warmup, args.concurrency))
        os.kill(gw.proc.pid, signal.SIGUSR1)
        time.sleep(0.5)
        ok = asyncio.run(send(target, args.scenario, args.requests, args.concurrency))
    finally:
        gw.proc.stop()
    if ok != args.requests:
        raise RuntimeError(f"{name}: {ok} of {args.requests} requests answered 200")
    opcodes: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for row in orjson.loads(out.read_bytes()):
        key = _name(row["file"], row["function"])
        opcodes[key] += row["opcodes"]
        calls[key] += row["calls"]
    return opcodes, calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--revs", default=f"HEAD,{WORKTREE}", help="comma-separated git revisions")
    p.add_argument("--scenario", default="1k")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    revs = args.revs.split(",")
    found: list[Counts] = []
    with rig("opcodes") as (ctx, _):
        for i, rev in enumerate(revs):
            found.append(measure(ctx, export(rev, ctx.cache), f"opcodes-{i}", args))
    n = args.requests
    for rev, (opcodes, calls) in zip(revs, found, strict=True):
        print(
            f"{rev}: {sum(opcodes.values()) / n:.0f} instructions, "
            f"{sum(calls.values()) / n:.1f} calls per request"
        )
    if len(found) < 2:  # one revision: where its instructions go
        opcodes, calls = found[0]
        print(f"\n{revs[0]}, per request: instructions (calls)")
        for k, v in opcodes.most_common(args.top):
            print(f"{v / n:8.1f}  ({calls[k] / n:.2f})  {k}")
        return
    (a, ca), (b, cb) = found[-2], found[-1]
    moved = sorted(set(a) | set(b), key=lambda k: -abs(b[k] - a[k]))[: args.top]
    print(f"\n{revs[-2]} -> {revs[-1]}, per request: instructions (calls)")
    for k in moved:
        print(
            f"{a[k] / n:8.1f} -> {b[k] / n:8.1f} {(b[k] - a[k]) / n:+8.1f}"
            f"  ({ca[k] / n:.2f} -> {cb[k] / n:.2f})  {k}"
        )


if __name__ == "__main__":
    main()
