"""The load generator: raw asyncio sockets on uvloop with the httptools response parser, requests
serialised once, no coroutine per request. One process per measurement, pinned to the rig's core:

    taskset -c 1 python -m bench.loadgen '<json job>'

It prints `start` when the load begins and `done` when it ends (the orchestrator samples the
gateway's CPU and memory between the two), then one line of JSON with the results.

Jobs (see `run_job`): `latency` (interleaved one-at-a-time requests to two targets), `open`
(open-loop load at a fixed rate: latency counted from each request's intended start), `closed`
(N requests in flight, to estimate capacity), `streams` (N concurrent streams: time to first
delta, gaps between deltas, stalls)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httptools
import orjson
import uvloop

from bench import bodies

# Byte markers of one delta in each dialect's stream (see replies.py).
MARKERS = {
    "anthropic": (b'"text_delta"', b'"input_json_delta"'),
    "openai": (b'"delta":{"content":', b'[{"index":0,"function":{"arguments":'),
}


@dataclass(slots=True)
class Target:
    """Where requests go and how they look."""

    port: int
    path: str = "/v1/messages"
    headers: dict[str, str] = field(default_factory=dict)
    model: str = "bench-model"
    dialect: str = "anthropic"  # what comes back: decides the delta markers

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Target:
        return cls(**raw)

    def request(self, size: str, *, stream: bool = False, script: str = "text") -> bytes:
        body = bodies.body(size, self.model, stream=stream, script=script)
        head = [
            f"POST {self.path} HTTP/1.1",
            f"host: 127.0.0.1:{self.port}",
            "content-type: application/json",
            "accept: application/json" if not stream else "accept: text/event-stream",
            f"content-length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Result:
    """One request's outcome. Times are perf_counter seconds."""

    __slots__ = (
        "arrivals",
        "body",
        "deltas",
        "done",
        "error",
        "first",
        "sent",
        "start",
        "status",
    )

    def __init__(self, start: float) -> None:
        self.start = start  # intended start (open loop) or when it was sent
        self.sent = start
        self.status = 0
        self.done = 0.0
        self.first = 0.0  # the first delta
        self.deltas = 0
        self.arrivals: list[float] | None = None
        self.body: list[bytes] | None = None
        self.error = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    def latency(self) -> float:
        return self.done - self.start


Done = Callable[["Conn", Result], None]


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.result: Result | None = None
        self.on_done: Done | None = None
        self.markers: tuple[bytes, ...] = ()
        self.closed = asyncio.get_running_loop().create_future()
        self.reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.reusable = False
        if not self.closed.done():
            self.closed.set_result(None)
        if self.result is not None:
            self._finish("connection lost" + (f": {exc}" if exc else ""))

    def send(
        self,
        data: bytes,
        result: Result,
        on_done: Done,
        markers: tuple[bytes, ...] = (),
        *,
        keep_body: bool = False,
        track: bool = False,
    ) -> None:
        assert self.result is None, "one request at a time"
        assert self.transport is not None, "connected"
        self.result = result
        self.on_done = on_done
        self.markers = markers
        if keep_body:
            result.body = []
        if track:
            result.arrivals = []
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish("unexpected upgrade")
        except httptools.HttpParserError as exc:
            self._finish(f"bad HTTP: {exc}")
            self.close()

    def on_status(self, status: bytes) -> None:
        if self.result is not None:
            self.result.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        r = self.result
        if r is None:
            return
        if r.body is not None:
            r.body.append(body)
        if self.markers:
            n = 0
            for m in self.markers:
                n += body.count(m)
            if n:
                now = time.perf_counter()
                if not r.deltas:
                    r.first = now
                r.deltas += n
                if r.arrivals is not None:
                    r.arrivals.append(now)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.reusable = False
        self._finish("")

    def _finish(self, error: str) -> None:
        r, cb = self.result, self.on_done
        if r is None or cb is None:
            return
        r.done = time.perf_counter()
        r.error = error
        self.result = None
        self.on_done = None
        if error:
            self.reusable = False
            self.close()
        cb(self, r)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(port: int) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(Conn, "127.0.0.1", port)
    return conn


async def exchange(
    conn: Conn,
    data: bytes,
    markers: tuple[bytes, ...] = (),
    *,
    keep_body: bool = False,
    track: bool = False,
    timeout: float = 30.0,  # noqa: ASYNC109 - the wait is on a callback's future
) -> Result:
    fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
    result = Result(time.perf_counter())
    conn.send(
        data,
        result,
        lambda _c, r: fut.done() or fut.set_result(r),
        markers,
        keep_body=keep_body,
        track=track,
    )
    try:
        return await asyncio.wait_for(fut, timeout)
    except TimeoutError:
        conn.result = None
        conn.close()
        result.error = f"timed out after {timeout}s"
        result.done = time.perf_counter()
        return result


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def signal_line(word: str) -> None:
    sys.stdout.write(word + "\n")
    sys.stdout.flush()


# --- jobs -------------------------------------------------------------------------------------


async def latency_job(job: dict[str, Any]) -> dict[str, Any]:
    """One request at a time, alternating between the targets (direct, gateway, direct, ...);
    every target gets `n` requests, or as many as fit in `seconds`."""
    targets = [Target.of(t) for t in job["targets"]]
    stream = bool(job.get("stream"))
    script = job.get("script", "short" if stream else "text")
    payloads = [t.request(job["size"], stream=stream, script=script) for t in targets]
    markers = [MARKERS[t.dialect] if stream else () for t in targets]
    conns = [await connect(t.port) for t in targets]
    warm = int(job.get("warmup", 20))
    timeout = float(job.get("timeout", 30))
    for i, conn in enumerate(conns):
        for _ in range(warm):
            await exchange(conn, payloads[i], markers[i], timeout=timeout)
    out: list[dict[str, Any]] = [
        {"latency": [], "ttft": [], "gaps": [], "errors": 0, "error_samples": []} for _ in targets
    ]
    deadline = time.perf_counter() + float(job["seconds"])
    signal_line("start")
    cpu0 = cpu_seconds()
    for _ in range(int(job["n"])):
        if time.perf_counter() > deadline:
            break
        for i in range(len(targets)):
            if not conns[i].reusable or conns[i].transport is None:
                conns[i] = await connect(targets[i].port)
            r = await exchange(conns[i], payloads[i], markers[i], track=stream, timeout=timeout)
            o = out[i]
            if not r.ok or (stream and r.deltas == 0):
                o["errors"] += 1
                if len(o["error_samples"]) < 3:
                    o["error_samples"].append(r.error or f"status {r.status}, {r.deltas} deltas")
                continue
            o["latency"].append(r.latency())
            if stream:
                o["ttft"].append(r.first - r.start)
                arr = r.arrivals or []
                o["gaps"].extend(b - a for a, b in itertools.pairwise(arr))
    signal_line("done")
    cpu = cpu_seconds() - cpu0
    for c in conns:
        c.close()
    return {"targets": out, "loadgen_cpu_s": cpu}


class OpenLoop:
    """Requests start on a fixed timetable; a request that finds no idle connection opens one
    (up to `max_conns`), else waits its turn. Latency counts from the intended start."""

    def __init__(self, target: Target, payload: bytes, markers: tuple[bytes, ...], max_conns: int):
        self.target = target
        self.payload = payload
        self.markers = markers
        self.max_conns = max_conns
        self.idle: list[Conn] = []
        self.conns = 0
        self.opening = 0
        self.waiting: deque[Result] = deque()
        self.results: list[Result] = []
        self.outstanding = 0
        self.all_done = asyncio.Event()
        self.ended = False
        self.errors: dict[str, int] = {}
        self.tasks: set[asyncio.Future[None]] = set()

    async def prewarm(self, n: int) -> None:
        conns = await asyncio.gather(*(connect(self.target.port) for _ in range(n)))
        self.idle.extend(conns)
        self.conns += n

    def issue(self, intended: float) -> None:
        r = Result(intended)
        self.results.append(r)
        self.outstanding += 1
        while self.idle and self.idle[-1].transport is None:  # closed while idle
            self.idle.pop()
            self.conns -= 1
        if self.idle:
            self._send(self.idle.pop(), r)
        elif self.conns + self.opening < self.max_conns:
            self.opening += 1
            self._spawn(self._open_and_send(r))
        else:
            self.waiting.append(r)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _open_and_send(self, r: Result) -> None:
        try:
            conn = await connect(self.target.port)
        except OSError as exc:
            self.opening -= 1
            r.error = f"connect: {exc}"
            r.done = time.perf_counter()
            self._completed(None, r)
            return
        self.opening -= 1
        self.conns += 1
        self._send(conn, r)

    def _send(self, conn: Conn, r: Result) -> None:
        r.sent = time.perf_counter()
        conn.send(self.payload, r, self._completed, self.markers)

    def _completed(self, conn: Conn | None, r: Result) -> None:
        self.outstanding -= 1
        if r.error or r.status != 200:
            key = r.error or f"status {r.status}"
            self.errors[key] = self.errors.get(key, 0) + 1
        if conn is not None:
            if conn.reusable and conn.transport is not None:
                if self.waiting:
                    self._send(conn, self.waiting.popleft())
                    return
                self.idle.append(conn)
            else:
                self.conns -= 1
                if self.waiting:
                    self.opening += 1
                    self._spawn(self._open_and_send(self.waiting.popleft()))
        if self.ended and self.outstanding == 0:
            self.all_done.set()

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


async def open_job(job: dict[str, Any]) -> dict[str, Any]:
    target = Target.of(job["target"])
    stream = bool(job.get("stream"))
    payload = target.request(job["size"], stream=stream, script=job.get("script", "fast"))
    rate = float(job["rate"])
    seconds = float(job["seconds"])
    drain = float(job.get("drain", 10))
    gen = OpenLoop(
        target, payload, MARKERS[target.dialect] if stream else (), int(job.get("max_conns", 512))
    )
    await gen.prewarm(min(int(job.get("prewarm", 8)), gen.max_conns))
    total = int(rate * seconds)
    signal_line("start")
    cpu0 = cpu_seconds()
    t0 = time.perf_counter() + 0.001
    end = t0 + seconds
    i = 0
    while i < total:
        now = time.perf_counter()
        due = min(total, int((now - t0) * rate) + 1)
        while i < due:
            gen.issue(t0 + i / rate)
            i += 1
        # The event loop's timers have millisecond resolution: sleeping less would spin. So
        # requests go out in batches at most ~1 ms after their intended start (and their
        # latency counts from the intended start).
        delay = t0 + i / rate - time.perf_counter()
        await asyncio.sleep(max(delay, 0.001))
    gen.ended = True
    if gen.outstanding:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gen.all_done.wait(), max(end - time.perf_counter(), 0) + drain)
    signal_line("done")
    cpu = cpu_seconds() - cpu0
    wall = time.perf_counter() - t0
    # An unfinished request counts as having taken the whole run and the drain.
    lat = sorted(r.latency() if r.done else seconds + drain for r in gen.results)
    in_window = sum(1 for r in gen.results if r.ok and r.done and r.done <= end)
    failed = sum(1 for r in gen.results if not r.done or not r.ok)
    unfinished = sum(1 for r in gen.results if not r.done)
    gen.close()
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": len(gen.results),
        "completed_in_window": in_window,
        "throughput": in_window / seconds,
        "errors": failed,
        "unfinished": unfinished,
        "error_kinds": dict(list(gen.errors.items())[:5]),
        "latency": percentiles(lat),
        # How late requests went out against the timetable (the generator's own lag, included
        # in `latency`), and latency from when each was actually sent.
        "lag": percentiles(sorted(r.sent - r.start for r in gen.results)),
        "service": percentiles(sorted(r.done - r.sent for r in gen.results if r.done)),
        "max_conns_used": gen.conns,
        "loadgen_cpu_s": cpu,
        "wall_s": wall,
    }


async def closed_job(job: dict[str, Any]) -> dict[str, Any]:
    """`concurrency` requests in flight for `seconds`: a first estimate of capacity."""
    target = Target.of(job["target"])
    payload = target.request(job["size"])
    conc = int(job["concurrency"])
    seconds = float(job["seconds"])
    conns = await asyncio.gather(*(connect(target.port) for _ in range(conc)))
    stop_at = time.perf_counter() + seconds
    done = 0
    errors = 0
    finished = asyncio.Event()
    live = conc

    def again(conn: Conn, r: Result) -> None:
        nonlocal done, errors, live
        if r.ok:
            done += 1
        else:
            errors += 1
        if time.perf_counter() < stop_at and conn.reusable:
            conn.send(payload, Result(time.perf_counter()), again)
        else:
            live -= 1
            if live == 0:
                finished.set()

    signal_line("start")
    t0 = time.perf_counter()
    for c in conns:
        c.send(payload, Result(t0), again)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(finished.wait(), seconds + 30)
    wall = time.perf_counter() - t0
    signal_line("done")
    for c in conns:
        c.close()
    return {"throughput": done / wall, "completed": done, "errors": errors, "wall_s": wall}


async def streams_job(job: dict[str, Any]) -> dict[str, Any]:
    """`n` streams started evenly over `ramp` seconds, all held to the end. A stall is a gap
    over `stall` seconds between deltas; a stream is good if it got all `deltas` deltas."""
    target = Target.of(job["target"])
    n = int(job["n"])
    ramp = float(job.get("ramp", 0.5))
    expect = int(job["deltas"])
    stall = float(job.get("stall", 0.2))
    timeout = float(job.get("timeout", 60))
    payload = target.request(job.get("size", "1k"), stream=True, script=job.get("script", "text"))
    markers = MARKERS[target.dialect]
    conns = await asyncio.gather(*(connect(target.port) for _ in range(n)), return_exceptions=True)
    results: list[Result] = []
    left = n
    finished = asyncio.Event()

    def ended(_c: Conn, _r: Result) -> None:
        nonlocal left
        left -= 1
        if left == 0:
            finished.set()

    connect_errors = 0
    signal_line("start")
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    for i, conn in enumerate(conns):
        at = t0 + ramp * i / n
        delay = at - time.perf_counter()
        if delay > 0.001:
            await asyncio.sleep(delay)
        r = Result(time.perf_counter())
        results.append(r)
        if isinstance(conn, BaseException):
            connect_errors += 1
            r.error = f"connect: {conn}"
            ended(None, r)  # type: ignore[arg-type]
            continue
        conn.send(payload, r, ended, markers, track=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(finished.wait(), timeout)
    signal_line("done")
    cpu = cpu_seconds() - cpu0
    ttft: list[float] = []
    gaps: list[float] = []
    worst: list[float] = []
    stalled = incomplete = failed = 0
    samples: list[str] = []
    for r in results:
        if not r.ok or not r.done:
            failed += 1
            if len(samples) < 3:
                samples.append(r.error or (f"status {r.status}" if r.done else "unfinished"))
            continue
        if r.deltas < expect:
            incomplete += 1
            if len(samples) < 3:
                samples.append(f"{r.deltas} of {expect} deltas")
        ttft.append(r.first - r.start)
        arr = r.arrivals or []
        g = [b - a for a, b in itertools.pairwise(arr)]
        gaps.extend(g)
        top = max(g, default=0.0)
        worst.append(top)
        if top > stall:
            stalled += 1
    for c in conns:
        if isinstance(c, Conn):
            c.close()
    return {
        "n": n,
        "ok": n - failed - incomplete - stalled,
        "failed": failed,
        "incomplete": incomplete,
        "stalled": stalled,
        "connect_errors": connect_errors,
        "samples": samples,
        "deltas": sum(r.deltas for r in results),
        "ttft": percentiles(sorted(ttft)),
        "gap": percentiles(sorted(gaps)),
        "max_gap": max(worst, default=0.0),
        "loadgen_cpu_s": cpu,
        "wall_s": time.perf_counter() - t0,
    }


async def fetch_job(job: dict[str, Any]) -> dict[str, Any]:
    """One request; the whole reply (for the correctness gate)."""
    target = Target.of(job["target"])
    stream = bool(job.get("stream"))
    payload = target.request(job["size"], stream=stream, script=job.get("script", "text"))
    conn = await connect(target.port)
    signal_line("start")
    r = await exchange(conn, payload, keep_body=True, timeout=float(job.get("timeout", 30)))
    signal_line("done")
    conn.close()
    return {
        "status": r.status,
        "error": r.error,
        "body": b"".join(r.body or []).decode("utf-8", "replace"),
        "latency": r.latency(),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max of sorted values (seconds); empty -> {}."""
    if not values:
        return {}
    n = len(values)

    def at(q: float) -> float:
        return values[min(n - 1, max(0, round(q * (n - 1))))]

    return {
        "n": n,
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": values[-1],
        "mean": sum(values) / n,
    }


JOBS = {
    "latency": latency_job,
    "open": open_job,
    "closed": closed_job,
    "streams": streams_job,
    "fetch": fetch_job,
}


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    return await JOBS[job["kind"]](job)


def main() -> None:
    job = orjson.loads(sys.argv[1])
    result = uvloop.run(run_job(job))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
