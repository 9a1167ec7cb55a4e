"""The console under a large ledger, and the hot path with the console open.

    python -m bench.console [--rows 100000] [--rounds 3] [--seconds 10] [--out DIR]

1. Pages: a SQLite ledger of `--rows` rows over 30 days (8 keys, 4 models, 3 channels, 3%
   errors) is written before the gateway starts; then every console page (and the CSV) is
   fetched 7 times by a signed-in client, and the median and slowest times are reported.
2. Hot path: the load generator (bench/loadgen.py, `closed` job: 16 requests in flight, 1 KB
   bodies, to the built-in scripted model) runs against the gateway pinned to core 0, in rounds
   that alternate "console closed" and "console open" (a client doing what an open Overview
   tab and an open live Requests tab do: the in-flight fragment and the newest requests every
   2 s). Throughput and the gateway's CPU per request are compared, round by round.

Everything listens on and connects to 127.0.0.1 only; every step has a time limit."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.procs import Proc, free_port, wait_port
from switchboard.storage import Storage
from switchboard.tenancy.usage import UsageRow

MASTER = "sk-bench-console-master-key-0123456789"
MODEL = "bench-model"
PAGES = [
    ("overview, last hour", "/console?window=hour"),
    ("overview, last day", "/console?window=day"),
    ("overview, 30 days by model", "/console?window=30d&by=model"),
    ("overview, 30 days by key", "/console?window=30d&by=key"),
    ("requests, newest first", "/console/requests"),
    ("requests, page 1000", "/console/requests?page=1000"),
    ("requests, slowest first", "/console/requests?sort=latency"),
    ("requests, one model, errors", "/console/requests?model=m2&outcome=error"),
    ("requests, live rows", "/console/requests/rows"),
    ("usage by day", "/console/usage?group_by=day"),
    ("usage by key, 7 days", "/console/usage?group_by=key&since=7d"),
    ("keys", "/console/keys"),
    ("channels", "/console/channels"),
    ("models", "/console/models"),
]


def ledger_rows(count: int, now: datetime) -> list[UsageRow]:
    rng = random.Random(14)
    channels = ["p1/up-a", "p2/up-b", "p3/up-c"]
    out = []
    for i in range(count):
        at = now - timedelta(seconds=rng.uniform(0, 30 * 86_400))
        failed = rng.random() < 0.03
        inp, outp = rng.randint(50, 4000), rng.randint(10, 800)
        channel = rng.choice(channels)
        out.append(
            UsageRow(
                at=at,
                request_id=f"req_bench{i:09d}",
                key_id=f"key_{rng.randint(1, 8):016x}",
                model=f"m{rng.randint(1, 4)}",
                provider=channel.split("/")[0],
                channel=channel,
                upstream_model=channel.split("/")[1],
                input_tokens=0 if failed else inp,
                output_tokens=0 if failed else outp,
                cache_read_tokens=0,
                cache_write_tokens=0,
                cost_nusd=0 if failed else inp * 3000 + outp * 15000,
                latency_ms=rng.lognormvariate(6.5, 0.8),
                ttft_ms=None,
                stream=rng.random() < 0.5,
                status=rng.choice([429, 502, 529]) if failed else 200,
                error_type="api_error" if failed else None,
                client_disconnected=False,
            )
        )
    return out


async def fill(database: str, rows: int) -> float:
    storage = Storage(database)
    started = time.perf_counter()
    try:
        await storage.upgrade()
        made = ledger_rows(rows, datetime.now(UTC))
        for i in range(0, len(made), 5000):
            await storage.ledger.write(made[i : i + 5000])
    finally:
        await storage.close()
    return time.perf_counter() - started


def signed_in(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, trust_env=False, timeout=30)
    form = http.get("/console/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    answer = http.post("/console/login", data={"csrf": token.group(1), "key": MASTER})
    assert answer.status_code == 303, answer.text
    return http


def time_pages(http: httpx.Client, repeats: int = 7) -> list[dict[str, Any]]:
    out = []
    for name, path in [*PAGES, ("usage CSV, 30 days by day", "/console/usage.csv?group_by=day")]:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            answer = http.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
        out.append(
            {
                "page": name,
                "path": path,
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "bytes": len(answer.content),
            }
        )
    return out


class ConsoleTab(threading.Thread):
    """What an open console does: the in-flight fragment and the live requests rows, every 2 s."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.http = signed_in(base)
        self.stop = threading.Event()
        self.fetches = 0

    def run(self) -> None:
        while not self.stop.wait(2.0):
            for path in ("/console/inflight", "/console/requests/rows"):
                self.http.get(path)
                self.fetches += 1


def load_round(port: int, seconds: float, gateway: Proc) -> dict[str, float]:
    job = {
        "kind": "closed",
        "target": {"port": port, "headers": {"x-api-key": MASTER}, "model": MODEL},
        "size": "1k",
        "concurrency": 16,
        "seconds": seconds,
    }
    cpu0 = gateway.cpu_seconds()
    done = subprocess.run(
        ["taskset", "-c", "1", sys.executable, "-m", "bench.loadgen", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    cpu = gateway.cpu_seconds() - cpu0
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_us_per_request"] = cpu / max(1, result["completed"]) * 1e6
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/console"))
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-console-"))
    database = f"sqlite:///{tmp / 'switchboard.db'}"
    fill_s = asyncio.run(fill(database, args.rows))
    config = {
        "master_key": MASTER,
        "database": database,
        "providers": [{"name": "demo", "kind": "scripted"}],
        "models": [{"id": MODEL, "channels": [{"provider": "demo", "model": "demo"}]}],
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    gateway = Proc(
        "switchboard",
        [
            sys.executable,
            "-m",
            "switchboard",
            "serve",
            "--config",
            str(tmp / "config.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cpus="0",
        log=tmp / "gateway.log",
        cwd=tmp,
    )
    try:
        wait_port(port, 30, gateway.popen)
        gateway.pin_all()
        base = f"http://127.0.0.1:{port}"
        http = signed_in(base)
        try:
            pages = time_pages(http)
        finally:
            http.close()
        rounds: list[dict[str, Any]] = []
        for i in range(args.rounds):
            for console_open in (False, True):
                tab = ConsoleTab(base) if console_open else None
                if tab is not None:
                    tab.start()
                result = load_round(port, args.seconds, gateway)
                if tab is not None:
                    tab.stop.set()
                    tab.join(10)
                    result["console_fetches"] = tab.fetches
                    tab.http.close()
                rounds.append({"round": i + 1, "console_open": console_open, **result})
    finally:
        gateway.stop()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "fill_seconds": round(fill_s, 1),
        "pages": pages,
        "hot_path": rounds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "console.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "console.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Console: {report['rows']:,} ledger rows (SQLite), {report['when']}",
        "",
        "Each page fetched 7 times by a signed-in client on loopback; the gateway pinned to "
        "core 0 (`python -m bench.console`).",
        "",
        "| page | median | slowest | size |",
        "|---|---|---|---|",
    ]
    for p in report["pages"]:
        lines.append(
            f"| {p['page']} (`{p['path']}`) | {p['median_ms']} ms | {p['max_ms']} ms "
            f"| {p['bytes'] / 1024:.1f} KiB |"
        )
    lines += [
        "",
        "Hot path, 16 requests in flight (1 KB, scripted model), rounds alternating the console "
        "closed and open (an Overview and a live Requests tab polling every 2 s):",
        "",
        "| round | console | req/s | gateway CPU per request | errors | console fetches |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["hot_path"]:
        lines.append(
            f"| {r['round']} | {'open' if r['console_open'] else 'closed'} "
            f"| {r['throughput']:,.0f} | {r['cpu_us_per_request']:.0f} µs | {r['errors']} "
            f"| {r.get('console_fetches', '-')} |"
        )
    closed = [r["throughput"] for r in report["hot_path"] if not r["console_open"]]
    opened = [r["throughput"] for r in report["hot_path"] if r["console_open"]]
    if closed and opened:
        ratio = statistics.median(opened) / statistics.median(closed)
        lines += ["", f"Median throughput with the console open / closed: {ratio:.3f}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
