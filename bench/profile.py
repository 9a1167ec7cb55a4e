"""Profile one gateway under load with py-spy: where its core goes, by function.

    bench/run-profile [--gateway switchboard] [--scenario 1k|90k|stream|tools|passthrough]
                      [--seconds 10]

Starts the upstream (core 1) and the gateway (core 0), drives it with the load generator (closed
loop, 32 in flight; or 300 concurrent paced streams), records with py-spy in `raw` format, and
writes to bench/results/profile/: the collapsed stacks (for speedscope or flamegraph.pl) and the
top functions by own time and by total time. Only samples holding the GIL count (`--gil`), so
idle threads and the event loop's wait stay out."""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import install
from bench.gateways import REPO, STARTERS, Context, start_upstream
from bench.procs import wait_port
from bench.runner import Rig


def job_for(scenario: str, target: dict[str, Any], seconds: float) -> dict[str, Any]:
    if scenario in ("1k", "15k", "90k"):
        return {
            "kind": "closed",
            "target": target,
            "size": scenario,
            "concurrency": 32,
            "seconds": seconds,
        }
    script = "tools" if scenario == "tools" else "text"
    n = 300
    return {
        "kind": "streams",
        "target": target,
        "n": n,
        "ramp": 0.5,
        "deltas": 64,
        "script": script,
        "timeout": seconds + 30,
        "repeat_seconds": seconds,
    }


def summarize(collapsed: Path, top: int = 40) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        # "function (file:line)" -> "function (file)": a function's lines add up.
        frames = [f.rsplit(":", 1)[0] + ")" if f.endswith(")") else f for f in stack.split(";")]
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    out = [f"{samples} samples", "", "own time:"]
    out += [f"{n / samples:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "total time (inclusive):"]
    out += [f"{n / samples:6.1%}  {f}" for f, n in total.most_common(top)]
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gateway", default="switchboard", choices=sorted(STARTERS))
    p.add_argument("--scenario", default="1k")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "profile"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = install.cache_dir()
    python = Path(sys.executable)
    pyspy = python.parent / "py-spy"
    workdir = cache / "runs" / f"profile-{int(time.time())}"
    workdir.mkdir(parents=True)
    upstream, port = start_upstream(python, workdir)
    gw = None
    try:
        wait_port(port, 20, upstream.popen)
        rig = Rig(python, upstream, port)
        gw = STARTERS[args.gateway](Context(python, cache, workdir, port))
        gw.proc.pin_all()
        target = gw.target(passthrough=args.scenario == "passthrough")
        scenario = "1k" if args.scenario == "passthrough" else args.scenario
        rig.run(job_for(scenario, target, 2.0), gw.proc, timeout=120)  # warm up
        name = f"{args.gateway}-{args.scenario}"
        raw = out / f"{name}.collapsed"
        pids = [pid for pid in gw.proc.tree() if pid != gw.proc.pid] or [gw.proc.pid]
        spy = subprocess.Popen(
            [
                *(str(pyspy), "record", "--gil", "--format", "raw", "--rate", str(args.rate)),
                *("--duration", str(int(args.seconds)), "--pid", str(pids[-1]), "-o", str(raw)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        job = job_for(scenario, target, args.seconds)
        if job["kind"] == "streams":
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                rig.run(job, gw.proc, timeout=120)
        else:
            rig.run(job, gw.proc, timeout=args.seconds + 120)
        spy.wait(args.seconds + 60)
        subprocess.run(
            [str(pyspy), "--version"], capture_output=True, check=False, timeout=10
        )  # py-spy writes the file on exit
        summary = summarize(raw)
        (out / f"{name}.top.txt").write_text(summary)
        print(summary[:4000])
    finally:
        if gw is not None:
            gw.proc.stop()
        upstream.stop()


if __name__ == "__main__":
    main()
