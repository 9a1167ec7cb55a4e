"""The benchmark: Switchboard, the floor relay, LiteLLM and claude-code-router, measured the same
way in the same run. Use `bench/run` (it makes the bench venv first); see bench/README.md.

Every gateway runs pinned to core 0; the load generator, the scripted upstream and this
orchestrator run on core 1. Everything listens on and talks to 127.0.0.1 only."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import install, report, scenarios
from bench.gateways import REPO, RIG_CPUS, STARTERS, Context, Running, start_upstream
from bench.procs import wait_port
from bench.runner import Rig

DEFAULT_GATEWAYS = ("floor", "switchboard", "switchboard-w2", "litellm", "ccr", "ccr-nolog")


class OutOfTime(Exception):
    pass


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = scenarios.QUICK if args.quick else scenarios.FULL
        self.deadline = time.monotonic() + args.max_minutes * 60
        self.cache = install.cache_dir()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        runs = self.cache / "runs"
        # Gateway logs (an access line per request) are big: keep the last few runs only, by
        # age, and never one touched in the last hour (an `ab` or `instr` run may be using it).
        found = sorted(runs.glob("*"), key=lambda d: d.stat().st_mtime) if runs.exists() else []
        for old in found[:-3]:
            if time.time() - old.stat().st_mtime > 3600:
                shutil.rmtree(old, ignore_errors=True)
        self.workdir = runs / stamp
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.out = (
            Path(args.out)
            if args.out
            else REPO / "bench" / "results" / ("quick" if args.quick else "")
        )
        self.out.mkdir(parents=True, exist_ok=True)
        self.python = Path(sys.executable)
        self.results: dict[str, Any] = {"meta": {}, "gateways": {}, "rig_checks": []}
        self.current: Running

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise OutOfTime(f"the run passed its {self.args.max_minutes}-minute limit")

    def log(self, text: str) -> None:
        left = (self.deadline - time.monotonic()) / 60
        print(f"bench [{left:5.1f} min left] {text}", file=sys.stderr, flush=True)

    # --- the run -------------------------------------------------------------------------

    def run(self) -> int:
        started = time.time()
        self.results["meta"] = machine_meta(self.args, self.mode.name)
        stat0 = _cpu_times()
        upstream, upstream_port = start_upstream(self.python, self.workdir)
        try:
            wait_port(upstream_port, 20, upstream.popen)
            rig = Rig(self.python, upstream, upstream_port)
            ctx = Context(self.python, self.cache, self.workdir, upstream_port)
            for name in self.args.gateways:
                try:
                    self.check_time()
                except OutOfTime as exc:
                    self.results["gateways"][name] = {"error": str(exc)}
                    continue
                self.results["gateways"][name] = self.measure(name, ctx, rig)
                self.save()
            with contextlib.suppress(OutOfTime):
                self.rig_checks(rig)
            if self.args.soak:
                with contextlib.suppress(OutOfTime):
                    self.soak(ctx, rig)
        finally:
            upstream.stop()
            meta = self.results["meta"]
            meta["duration_s"] = round(time.time() - started, 1)
            meta["loadavg_end"] = os.getloadavg()
            meta["cpu_busy_outside_bench"] = _steal_and_busy(stat0, _cpu_times())
            self.results["evaluation"] = report.evaluate(self.results)
            self.save()
            report.write_all(self.results, self.out)
            if not self.args.quick and not self.args.out:
                report.update_readme(
                    REPO / "bench" / "README.md", report.markdown(self.results), "results"
                )
            self.log(f"results in {self.out}")
        return 0

    def save(self) -> None:
        path = self.out / "results.json"
        path.write_bytes(orjson.dumps(self.results, option=orjson.OPT_INDENT_2))

    def measure(self, name: str, ctx: Context, rig: Rig) -> dict[str, Any]:
        self.log(f"starting {name}")
        try:
            gw = STARTERS[name](ctx)
        except Exception as exc:  # noqa: BLE001 - a peer that cannot start is a result
            self.log(f"{name} failed to start: {exc}")
            return {"error": f"failed to start: {exc}", "trace": traceback.format_exc()[-2000:]}
        out: dict[str, Any] = {
            "label": gw.label,
            "version": gw.version,
            "cpus": gw.cpus,
            "notes": gw.notes,
        }
        self.current = gw
        try:
            gw.proc.pin_all()
            self.measure_gateway(gw, ctx, rig, out)
        except OutOfTime as exc:
            out["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one gateway's failure must not end the run
            out["error"] = f"{type(exc).__name__}: {exc}"
            out["trace"] = traceback.format_exc()[-2000:]
            self.log(f"{name}: {out['error']}")
        finally:
            self._stop(self.current, out)
        return out

    def _stop(self, gw: Running, out: dict[str, Any]) -> None:
        out["alive_at_end"] = gw.proc.alive()
        if not gw.proc.alive():
            out["log_tail"] = gw.proc.tail()
        gw.proc.stop()
        for path in gw.scratch:
            shutil.rmtree(path, ignore_errors=True)

    def _fresh(self, gw: Running, ctx: Context, rig: Rig, out: dict[str, Any]) -> Running:
        """A new process for the memory measurements: what earlier scenarios left allocated
        (512 connections, 90 KB bodies) would otherwise count as idle or per-stream memory."""
        self._stop(gw, {})
        gw = STARTERS[gw.name](ctx)
        self.current = gw
        gw.proc.pin_all()
        scenarios.correctness(rig, gw)  # the same warm-up as the first process had
        time.sleep(1.0)
        out["idle_rss"] = gw.proc.rss_bytes()
        return gw

    def measure_gateway(self, gw: Running, ctx: Context, rig: Rig, out: dict[str, Any]) -> None:
        mode = self.mode
        self.log(f"{gw.name}: correctness gate")
        out["gate"] = scenarios.correctness(rig, gw)
        if not out["gate"]["ok"]:
            self.log(f"{gw.name}: FAILS the gate: {_failures(out['gate'])}")
        time.sleep(1.0)
        out["idle_rss"] = gw.proc.rss_bytes()
        only = self.args.scenarios
        sizes_lat = ("1k",) if gw.name.endswith("-w2") else mode.sizes_latency
        if "latency" in only:
            out["latency"] = {}
            for size in sizes_lat:
                self.check_time()
                self.log(f"{gw.name}: added latency, {size}")
                out["latency"][size] = scenarios.latency(rig, gw, size, mode)
        if "saturation" in only:
            out["saturation"] = {}
            for size in mode.sizes_saturation:
                self.check_time()
                self.log(f"{gw.name}: saturation, {size}")
                out["saturation"][size] = scenarios.saturation(rig, gw, size, mode)
                s = out["saturation"][size]
                self.log(f"{gw.name}: saturation {size}: {s['saturation']:.0f} req/s")
        if gw.name.endswith("-w2"):
            return
        if "streams" in only:
            self.check_time()
            if {"latency", "saturation"} & only:
                self.log(f"{gw.name}: restarting for the memory measurements")
                gw = self._fresh(gw, ctx, rig, out)
            self.log(f"{gw.name}: concurrent streams")
            out["streams"] = scenarios.concurrency(rig, gw, mode, out["idle_rss"])
            self.check_time()
            self.log(f"{gw.name}: stream latency")
            out["stream"] = scenarios.stream_latency(rig, gw, mode)
        if "tools" in only and gw.tools:
            self.check_time()
            self.log(f"{gw.name}: tool-call streaming lane")
            out["tools"] = scenarios.streams_at(rig, gw, mode.cpu_level, script="tools")
        if "passthrough" in only and gw.passthrough_model:
            self.check_time()
            self.log(f"{gw.name}: Anthropic pass-through lane")
            out["passthrough"] = self.passthrough(gw, rig)
        if "providers" in only and gw.lanes:
            out["providers"] = self.providers(gw, rig)

    def providers(self, gw: Running, rig: Rig) -> dict[str, Any]:
        """Each provider lane (Gemini API, Bedrock InvokeModel): the gate, added latency."""
        out: dict[str, Any] = {}
        for lane in gw.lanes:
            self.check_time()
            self.log(f"{gw.name}: {lane} lane")
            out[lane] = {
                "gate": scenarios.correctness(rig, gw, lane=lane),
                "latency": {"1k": scenarios.latency(rig, gw, "1k", self.mode, lane=lane)},
            }
        return out

    def passthrough(self, gw: Running, rig: Rig) -> dict[str, Any]:
        mode = self.mode
        lane: dict[str, Any] = {"gate": scenarios.correctness(rig, gw, passthrough=True)}
        lane["latency"] = {
            size: scenarios.latency(rig, gw, size, mode, passthrough=True) for size in ("1k", "90k")
        }
        self.check_time()
        lane["saturation"] = {"1k": scenarios.saturation(rig, gw, "1k", mode, passthrough=True)}
        lane["stream"] = scenarios.stream_latency(rig, gw, mode, passthrough=True)
        lane["streams"] = scenarios.streams_at(rig, gw, mode.cpu_level, passthrough=True)
        return lane

    def rig_checks(self, rig: Rig) -> None:
        """Direct to the upstream at the highest saturation rate any single-core gateway
        reached: the rig must use under half its core there."""
        for size in self.mode.sizes_saturation:
            best = 0.0
            for name, g in self.results["gateways"].items():
                if name.endswith("-w2"):
                    continue
                best = max(best, g.get("saturation", {}).get(size, {}).get("saturation", 0.0))
            if best <= 0:
                continue
            self.check_time()
            self.log(f"rig check: direct at {best:.0f} req/s, {size}")
            self.results["rig_checks"].append(scenarios.rig_check(rig, size, best, self.mode))

    def soak(self, ctx: Context, rig: Rig) -> None:
        """Ten minutes at half of Switchboard's 1 KB saturation; RSS sampled through the run."""
        sat = self.results["gateways"].get("switchboard", {}).get("saturation", {}).get("1k", {})
        rate = max(sat.get("saturation", 0.0) / 2, 100.0)
        gw = STARTERS["switchboard"](ctx)
        try:
            gw.proc.pin_all()
            before = gw.proc.rss_bytes()
            samples: list[tuple[float, int]] = []
            seconds = float(self.args.soak_minutes) * 60
            self.log(f"soak: {seconds / 60:.0f} minutes at {rate:.0f} req/s")
            t0 = time.monotonic()
            chunk = min(60.0, seconds)
            errors = 0
            kinds: dict[str, int] = {}
            while time.monotonic() - t0 < seconds:
                step = rig.run(
                    {
                        "kind": "open",
                        "target": gw.target(),
                        "size": "1k",
                        "rate": rate,
                        "seconds": chunk,
                        "drain": 10,
                        "max_conns": 512,
                    },
                    gw.proc,
                    timeout=chunk + 90,
                )
                errors += step["errors"]
                for kind, n in step.get("error_kinds", {}).items():
                    kinds[kind] = kinds.get(kind, 0) + n
                samples.append((round(time.monotonic() - t0, 1), gw.proc.rss_bytes()))
            self.results["soak"] = {
                "rate": rate,
                "minutes": seconds / 60,
                "errors": errors,
                "error_kinds": kinds,
                "rss_before": before,
                "rss_samples": samples,
                # After the first minute (warm) to the end, and from before the soak.
                "rss_growth": samples[-1][1] - samples[0][1] if samples else None,
                "rss_growth_from_start": samples[-1][1] - before if samples else None,
            }
        finally:
            gw.proc.stop()


def _failures(gate: dict[str, Any]) -> str:
    return "; ".join(
        f"{k}: {', '.join(v['problems'][:2])}" for k, v in gate["checks"].items() if not v["ok"]
    )


def _cpu_times() -> list[list[int]]:
    rows = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                rows.append([int(x) for x in line.split()[1:]])
    return rows


def _steal_and_busy(a: list[list[int]], b: list[list[int]]) -> dict[str, float]:
    """Per core over the run: the share of time stolen by the hypervisor."""
    out = {}
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        d = [q - p for p, q in zip(x, y, strict=False)]
        total = sum(d) or 1
        out[f"cpu{i}_steal"] = round(d[7] / total, 4) if len(d) > 7 else 0.0
    return out


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_meta(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    from importlib import metadata

    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) * 1024
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "note": args.note,
        "shared_machine": args.shared,
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory_bytes": mem,
            "kernel": platform.release(),
            "loadavg_start": os.getloadavg(),
        },
        "versions": {
            "python": platform.python_version(),
            "uvloop": metadata.version("uvloop"),
            "aiohttp": metadata.version("aiohttp"),
            "uvicorn": metadata.version("uvicorn"),
            "httptools": metadata.version("httptools"),
            "orjson": metadata.version("orjson"),
            "msgspec": metadata.version("msgspec"),
            "node": _version(["node", "--version"]),
            "litellm_spec": install.LITELLM_SPEC,
            "ccr_spec": install.CCR_SPEC,
        },
        "pinning": {"gateway": "core 0", "rig (load generator, upstream, orchestrator)": "core 1"},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds per scenario")
    p.add_argument(
        "--gateways",
        default=",".join(DEFAULT_GATEWAYS),
        help=f"comma-separated, from {', '.join(STARTERS)}",
    )
    p.add_argument(
        "--scenarios",
        default="latency,saturation,streams,tools,passthrough,providers",
        help="comma-separated subset of latency,saturation,streams,tools,passthrough,providers",
    )
    p.add_argument("--out", help="results directory (default bench/results[/quick])")
    p.add_argument("--note", default="", help="a note stored with the results")
    p.add_argument(
        "--shared", action="store_true", help="record that the machine was shared during the run"
    )
    p.add_argument("--max-minutes", type=float, default=None, help="bound on the whole run")
    p.add_argument("--soak", action="store_true", help="also run the soak (Switchboard only)")
    p.add_argument("--soak-minutes", type=float, default=10.0)
    args = p.parse_args(argv)
    args.gateways = [g for g in args.gateways.split(",") if g]
    unknown = set(args.gateways) - set(STARTERS)
    if unknown:
        p.error(f"unknown gateways: {', '.join(sorted(unknown))}")
    args.scenarios = set(args.scenarios.split(","))
    if args.max_minutes is None:
        args.max_minutes = 20.0 if args.quick else 90.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The orchestrator lives on the rig's core, out of the gateway's way.
    os.sched_setaffinity(0, {int(RIG_CPUS)})
    with contextlib.suppress(ValueError, OSError):
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cache = install.cache_dir()
    if "litellm" in args.gateways:
        install.litellm(cache)
    if any(g.startswith("ccr") for g in args.gateways):
        install.ccr(cache)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
