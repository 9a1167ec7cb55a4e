"""A/B: two revisions of Switchboard, measured alternately in the same run, for before/after
numbers on a noisy machine. CPU time per request (or per relayed delta) is the steady metric:
it does not care how busy the other core is.

    bench/run ab --base HEAD~1 [--head WORKTREE] [--scenario 1k|90k|stream|tools|passthrough]
                 [--rounds 5] [--seconds 5] [--floor]

`--floor` (1k, 15k, 90k) measures the floor relay too in every round and reports each
revision's ratio to it: the floor's CPU per request over the revision's, which is the
saturation ratio a gateway bound by its one core reaches (what `bench/run --quick` estimates
from a search of open-loop rates that the VM's noise moves by a third), taken round by round
so that both sides of a ratio share their minute of the machine.

`--base`/`--head` are git revisions (exported with `git archive`, nothing in the repository
changes) or `WORKTREE` for the checkout as it is."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench import install, scenarios
from bench.gateways import REPO, Context, start_floor, start_switchboard, start_upstream
from bench.procs import wait_port
from bench.runner import Rig

WORKTREE = "WORKTREE"


def export(rev: str, cache: Path) -> Path:
    if rev == WORKTREE:
        return REPO / "src"
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", rev], capture_output=True, text=True, check=True
    ).stdout.strip()
    dest = cache / "ab" / sha
    if not (dest / "src" / "switchboard").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", sha, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def measure(rig: Rig, gw: Any, scenario: str, seconds: float) -> dict[str, float]:
    passthrough = scenario == "passthrough"
    target = gw.target(passthrough=passthrough)
    if scenario in ("1k", "15k", "90k", "passthrough"):
        size = "1k" if passthrough else scenario
        r = rig.run(
            {
                "kind": "closed",
                "target": target,
                "size": size,
                "concurrency": 32,
                "seconds": seconds,
            },
            gw.proc,
            timeout=seconds + 120,
        )
        cpu = r["meta"]["gateway_cpu_s"]
        return {
            "req_per_s": r["throughput"],
            "cpu_us_per_req": cpu / max(r["completed"], 1) * 1e6,
            "errors": r["errors"],
        }
    script = "tools" if scenario == "tools" else "text"
    r = scenarios.streams_at(rig, gw, 200, script=script)
    return {
        "cpu_us_per_delta": r["cpu_per_delta"] * 1e6,
        "ttft_p50_ms": r["ttft"].get("p50", 0) * 1e3,
        "bad_streams": r["n"] - r["ok"],
    }


@contextlib.contextmanager
def rig(kind: str) -> Iterator[tuple[Context, Rig]]:
    """The scripted upstream on the rig's core and a run directory, for tools that start
    Switchboard revisions themselves (`ab`, `instr`, `syscalls`)."""
    cache = install.cache_dir()
    python = Path(sys.executable)
    workdir = cache / "runs" / f"{kind}-{int(time.time())}"
    workdir.mkdir(parents=True)
    upstream, port = start_upstream(python, workdir)
    try:
        wait_port(port, 20, upstream.popen)
        yield Context(python, cache, workdir, port), Rig(python, upstream, port)
    finally:
        upstream.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="HEAD")
    p.add_argument("--head", default=WORKTREE)
    p.add_argument("--scenario", default="1k")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--floor", action="store_true", help="the floor relay too, and ratios to it")
    args = p.parse_args()
    if args.floor and args.scenario not in ("1k", "15k", "90k"):
        p.error("--floor measures 1k, 15k or 90k (the floor relays text requests only)")
    names = ["base", "head", *(["floor"] if args.floor else [])]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with rig("ab") as (ctx, the_rig):
        variants = {"base": export(args.base, ctx.cache), "head": export(args.head, ctx.cache)}
        for i in range(args.rounds):
            # Each side goes first in turn: a machine that slows within a round slows both.
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                if name == "floor":
                    gw = start_floor(ctx)
                else:
                    gw = start_switchboard(ctx, src=variants[name], name=f"ab-{name}")
                try:
                    gw.proc.pin_all()
                    measure(the_rig, gw, args.scenario, 1.0)  # warm-up
                    r = measure(the_rig, gw, args.scenario, args.seconds)
                finally:
                    gw.proc.stop()
                results[name].append(r)
                print(f"round {i + 1} {name}: {r}", file=sys.stderr, flush=True)
    summary: dict[str, Any] = {"base": args.base, "head": args.head, "scenario": args.scenario}
    for name, rows in results.items():
        summary[name] = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    for k in summary["base"]:
        b, h = summary["base"][k], summary["head"][k]
        summary.setdefault("change", {})[k] = (h - b) / b if b else None
    if args.floor:
        summary["ratio_to_floor"] = {side: _ratios(results, side) for side in ("base", "head")}
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())


def _ratios(results: dict[str, list[dict[str, float]]], side: str) -> dict[str, Any]:
    """A revision's ratio to the floor relay, round by round (both measured in that round):
    by CPU per request (the floor's over the revision's) and by closed-loop throughput."""
    pairs = list(zip(results["floor"], results[side], strict=True))
    cpu = [f["cpu_us_per_req"] / g["cpu_us_per_req"] for f, g in pairs]
    rate = [g["req_per_s"] / f["req_per_s"] for f, g in pairs]
    return {
        "cpu": statistics.median(cpu),
        "cpu_rounds": [round(x, 3) for x in cpu],
        "req_per_s": statistics.median(rate),
        "req_per_s_rounds": [round(x, 3) for x in rate],
    }


if __name__ == "__main__":
    main()
