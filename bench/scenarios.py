"""The measurements. Each takes a running gateway and the rig and returns plain data (seconds,
bytes) for results.json; report.py turns it into tables and charts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench import gate, replies
from bench.gateways import Running
from bench.runner import Rig


@dataclass(frozen=True, slots=True)
class Mode:
    """How long each measurement runs: `quick` to validate the harness, `full` for results."""

    name: str
    latency_n: int
    latency_seconds: float
    warmup: int
    sizes_latency: tuple[str, ...]
    sizes_saturation: tuple[str, ...]
    probe_seconds: float
    step_seconds: float
    drain_seconds: float
    refine: bool
    stream_n: int
    stream_levels: tuple[int, ...]
    cpu_level: int  # CPU per relayed event is reported at this many concurrent streams


QUICK = Mode("quick", 300, 4, 30, ("1k", "90k"), ("1k", "90k"), 1, 2, 5, False, 8, (200, 500), 200)
FULL = Mode(
    "full",
    3000,
    20,
    200,
    ("1k", "15k", "90k"),
    ("1k", "15k", "90k"),
    2,
    5,
    10,
    True,
    40,
    (100, 200, 500, 1000, 1500, 2000),
    200,
)

P99_LIMIT = 1.0  # seconds: a saturation step fails past this
MIN_DELIVERED = 0.95  # ... or when less than this share of the offered rate completes in time
RIG_BOUND = 0.9  # the rig's core is the bottleneck past this share


def _pcts(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}
    n = len(v)

    def at(q: float) -> float:
        return v[min(n - 1, round(q * (n - 1)))]

    return {"n": n, "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p999": at(0.999)}


def _added(gw: dict[str, float], direct: dict[str, float]) -> dict[str, float]:
    return {k: gw[k] - direct[k] for k in ("p50", "p90", "p99", "p999") if k in gw and k in direct}


# --- correctness -----------------------------------------------------------------------------


def correctness(
    rig: Rig, gw: Running, *, passthrough: bool = False, lane: str = ""
) -> dict[str, Any]:
    """Non-streaming and streaming replies, text and (where the gateway translates tools) tool
    calls. A failing check keeps its evidence: the problems and the start of the reply.
    `lane`: a provider lane's model (text only: the lanes measure the way out, not tools)."""
    checks: dict[str, Any] = {}
    cases = [("message", False, "text"), ("stream", True, "text")]
    target = gw.lane_target(lane) if lane else gw.target(passthrough=passthrough)
    if gw.tools and not lane:
        cases += [("message_tools", False, "tools"), ("stream_tools", True, "tools")]
    for name, stream, script in cases:
        job = {
            "kind": "fetch",
            "target": target,
            "size": "1k",
            "stream": stream,
            "script": script,
            "timeout": 30,
        }
        try:
            r = rig.run(job, timeout=60)
        except RuntimeError as exc:
            checks[name] = {"ok": False, "problems": [str(exc)[:500]]}
            continue
        if r["status"] != 200 or r["error"]:
            problems = [f"status {r['status']} {r['error']}".strip()]
        elif stream:
            problems = gate.check_stream(r["body"], replies.SCRIPTS[script])
        else:
            problems = gate.check_message(r["body"], script == "tools")
        checks[name] = {"ok": not problems, "problems": problems}
        if problems:
            checks[name]["evidence"] = r["body"][:1500] if not stream else r["body"][-1500:]
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


# --- added latency, one request at a time ------------------------------------------------


def latency(
    rig: Rig, gw: Running, size: str, mode: Mode, *, passthrough: bool = False, lane: str = ""
) -> dict[str, Any]:
    """`lane`: a provider lane, against the same reply straight from the upstream's route."""
    if lane:
        direct = {**rig.direct("anthropic"), "path": gw.lanes[lane][1]}
        target = gw.lane_target(lane)
    else:
        direct = rig.direct("anthropic" if passthrough else "openai")
        target = gw.target(passthrough=passthrough)
    job = {
        "kind": "latency",
        "targets": [direct, target],
        "size": size,
        "n": mode.latency_n,
        "seconds": mode.latency_seconds,
        "warmup": mode.warmup,
    }
    r = rig.run(job, gw.proc, timeout=mode.latency_seconds * 3 + 120)
    d, g = r["targets"]
    dp, gp = _pcts(d["latency"]), _pcts(g["latency"])
    return {
        "direct": dp,
        "gateway": gp,
        "added": _added(gp, dp),
        "errors": g["errors"],
        "error_samples": g["error_samples"],
        "direct_errors": d["errors"],
    }


# --- saturation, open loop -------------------------------------------------------------------


def _open_step(
    rig: Rig, gw_target: dict[str, Any], gw: Running | None, size: str, rate: float, mode: Mode
) -> dict[str, Any]:
    job = {
        "kind": "open",
        "target": gw_target,
        "size": size,
        "rate": rate,
        "seconds": mode.step_seconds,
        "drain": mode.drain_seconds,
        "prewarm": 16,
        "max_conns": 512,
    }
    timeout = mode.step_seconds + mode.drain_seconds + 60
    r = rig.run(job, gw.proc if gw else None, timeout=timeout)
    p99 = r["latency"].get("p99", float("inf"))
    r["passed"] = (
        r["errors"] == 0
        and p99 <= P99_LIMIT
        and r["completed_in_window"] >= MIN_DELIVERED * rate * mode.step_seconds
    )
    time.sleep(0.5)
    return r


def saturation(
    rig: Rig, gw: Running, size: str, mode: Mode, *, passthrough: bool = False
) -> dict[str, Any]:
    """A closed-loop probe (32 in flight) estimates capacity C; then open-loop steps at fractions
    of C go up until p99 passes 1 s, errors appear or delivery falls behind; the best passing
    rate is the saturation throughput."""
    target = gw.target(passthrough=passthrough)
    probe = rig.run(
        {
            "kind": "closed",
            "target": target,
            "size": size,
            "concurrency": 32,
            "seconds": mode.probe_seconds,
        },
        gw.proc,
        timeout=mode.probe_seconds + 90,
    )
    capacity = max(probe["throughput"], 2.0)
    steps: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    failed_rate: float | None = None
    for f in (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0):
        step = _open_step(rig, target, gw, size, round(capacity * f, 1), mode)
        steps.append(step)
        if not step["passed"]:
            failed_rate = step["rate"]
            break
        best = step
    if best is None:
        for f in (0.35, 0.25, 0.15, 0.1, 0.05):
            step = _open_step(rig, target, gw, size, round(capacity * f, 1), mode)
            steps.append(step)
            if step["passed"]:
                best = step
                break
    if mode.refine and best is not None and failed_rate is not None:
        mid = round((best["rate"] + failed_rate) / 2, 1)
        if mid > best["rate"] * 1.03:
            step = _open_step(rig, target, gw, size, mid, mode)
            steps.append(step)
            if step["passed"]:
                best = step
    return {
        "probe_closed_loop": probe["throughput"],
        "saturation": best["rate"] if best else 0.0,
        "achieved": best["throughput"] if best else 0.0,
        "p99_at_saturation": best["latency"].get("p99") if best else None,
        "rig_core_share": best["meta"].get("rig_core_share") if best else None,
        "gateway_core_share": best["meta"].get("gateway_core_share") if best else None,
        "steps": [_slim_step(s) for s in steps],
    }


def _slim_step(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": s["rate"],
        "passed": s["passed"],
        "throughput": s["throughput"],
        "errors": s["errors"],
        "error_kinds": s["error_kinds"],
        "latency": s["latency"],
        "lag_p99": s["lag"].get("p99"),
        "service": s["service"],
        "conns": s["max_conns_used"],
        "gateway_core_share": s["meta"].get("gateway_core_share"),
        "rig_core_share": s["meta"].get("rig_core_share"),
    }


def rig_check(rig: Rig, size: str, rate: float, mode: Mode) -> dict[str, Any]:
    """Direct to the upstream at `rate`: the rig's core must stay under half busy."""
    step = _open_step(rig, rig.direct("openai"), None, size, rate, mode)
    share = step["meta"].get("rig_core_share", 0.0)
    return {
        "size": size,
        "rate": rate,
        "rig_core_share": share,
        "ok": share < 0.5 and step["passed"],
        "passed": step["passed"],
        "latency": step["latency"],
    }


# --- streams ---------------------------------------------------------------------------------


def stream_latency(
    rig: Rig, gw: Running, mode: Mode, *, passthrough: bool = False
) -> dict[str, Any]:
    """Streams one at a time, alternating direct and gateway: added time to first delta and
    added gap between deltas.

    Two upstream scripts: `burst` (8 deltas back to back: what the gateway's own work adds before
    the first token) and `short` (8 deltas 20 ms apart: the cores go idle between deltas, so the
    added time also holds the wake-ups from idle that pacing costs on this machine). The gap
    between deltas comes from the paced one."""
    direct = rig.direct("anthropic" if passthrough else "openai")
    out: dict[str, Any] = {"errors": 0, "error_samples": []}
    for script, n in (("burst", mode.stream_n * 5), ("short", mode.stream_n)):
        job = {
            "kind": "latency",
            "stream": True,
            "script": script,
            "targets": [direct, gw.target(passthrough=passthrough)],
            "size": "1k",
            "n": n,
            "seconds": 60,
            "warmup": 5,
        }
        r = rig.run(job, gw.proc, timeout=240)
        d, g = r["targets"]
        dt, gt = _pcts(d["ttft"]), _pcts(g["ttft"])
        key = "ttft" if script == "burst" else "ttft_paced"
        out[key] = {"direct": dt, "gateway": gt, "added": _added(gt, dt)}
        if script == "short":
            dg, gg = _pcts(d["gaps"]), _pcts(g["gaps"])
            out["gap"] = {"direct": dg, "gateway": gg, "added": _added(gg, dg)}
        out["errors"] += g["errors"]
        out["error_samples"] += g["error_samples"]
    return out


def streams_at(
    rig: Rig, gw: Running, n: int, *, script: str = "text", passthrough: bool = False
) -> dict[str, Any]:
    s = replies.SCRIPTS[script]
    job: dict[str, Any] = {
        "kind": "streams",
        "target": gw.target(passthrough=passthrough),
        "n": n,
        "ramp": 0.5,
        # A gateway may merge argument pieces it holds back (Switchboard sends only closable JSON
        # prefixes), so a tool stream is complete with its text and at least one piece.
        "deltas": s.text_deltas + 1 if s.tool_deltas else s.deltas,
        "stall": replies.STALL_S,
        "script": script,
        "timeout": 30 + s.deltas * s.pace * 4,
    }
    r = rig.run(job, gw.proc, timeout=job["timeout"] + 60 + n / 50, sample_rss=True)
    meta = r.pop("meta")
    r["gateway_cpu_s"] = meta.get("gateway_cpu_s")
    # Per delta the upstream sent (n streams of s.deltas): the same denominator for everyone.
    r["cpu_per_delta"] = (meta.get("gateway_cpu_s") or 0.0) / (n * s.deltas)
    r["rss_peak"] = meta.get("rss_peak")
    r["rig_core_share"] = meta.get("rig_core_share")
    r["gateway_core_share"] = meta.get("gateway_core_share")
    r["passed"] = r["ok"] == n
    r["rig_bound"] = (r["rig_core_share"] or 0.0) > RIG_BOUND
    return r


def concurrency(rig: Rig, gw: Running, mode: Mode, idle_rss: int) -> dict[str, Any]:
    """Concurrent 64-delta streams, stepping up until one stalls (a gap over 200 ms), fails or
    comes back incomplete. Memory per 1,000 streams is taken at the highest clean level."""
    levels: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for n in mode.stream_levels:
        level = streams_at(rig, gw, n)
        levels.append(level)
        time.sleep(1.0)
        if not level["passed"]:
            break
        best = level
        if level["rig_bound"]:
            break
    if best is None:  # a slow gateway: find the level it does carry
        for n in (50, 20, 10, 5):
            if n >= mode.stream_levels[0]:
                continue
            level = streams_at(rig, gw, n)
            levels.append(level)
            time.sleep(1.0)
            if level["passed"]:
                best = level
                break
    # At `mode.cpu_level` streams, or the level run nearest to it (a slow gateway's).
    cpu_level = min(levels, key=lambda v: abs(v["n"] - mode.cpu_level), default=None)
    # Memory per stream: the peak RSS over the idle RSS at the clean level closest to 1,000
    # streams, per 1,000 streams (the facts' measure). The slope between the lowest and highest
    # clean levels is kept too: it leaves out the one-off growth of the first streams.
    clean = sorted((lv for lv in levels if lv["passed"] and lv["rss_peak"]), key=lambda v: v["n"])
    per_1000 = slope = None
    at = min(clean, key=lambda v: abs(v["n"] - 1000)) if clean else None
    if at is not None:
        per_1000 = (at["rss_peak"] - idle_rss) / at["n"] * 1000
    if len(clean) >= 2 and clean[-1]["n"] > clean[0]["n"]:
        lo, hi = clean[0], clean[-1]
        slope = max(hi["rss_peak"] - lo["rss_peak"], 0) / (hi["n"] - lo["n"]) * 1000
    return {
        "max_clean_streams": best["n"] if best else 0,
        "limited_by_levels": best is not None and best is levels[-1] and best["passed"],
        "rig_bound": bool(best and best["rig_bound"]),
        "cpu_per_delta": cpu_level["cpu_per_delta"] if cpu_level else None,
        "cpu_level": cpu_level["n"] if cpu_level else None,
        "rss_per_1000_streams": per_1000,
        "rss_level": at["n"] if at else None,
        "rss_slope_per_1000": slope,
        "levels": levels,
    }
