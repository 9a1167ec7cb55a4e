"""Runs Switchboard with the cyclic garbage collector's passes timed: `python bench/gc_trace.py
OUT -m switchboard serve ...` (bench/gcstats.py starts it). Counting starts at SIGUSR1 (after a
warm-up); SIGTERM writes, per generation, the passes and the seconds they took, and how many
objects the collector tracks and how many `gc.freeze` put out of its sight, to OUT (JSON)."""

from __future__ import annotations

import gc
import os
import runpy
import signal
import sys
import time
from typing import Any

import orjson

_passes = [0, 0, 0]
_seconds = [0.0, 0.0, 0.0]
_began = [0.0]
_counting = [False]


def _timed(phase: str, info: dict[str, Any]) -> None:
    if not _counting[0]:
        return
    if phase == "start":
        _began[0] = time.perf_counter()
    else:
        generation = info["generation"]
        _passes[generation] += 1
        _seconds[generation] += time.perf_counter() - _began[0]


def _start(*_: object) -> None:
    _passes[:] = [0, 0, 0]
    _seconds[:] = [0.0, 0.0, 0.0]
    _counting[0] = True


def _dump(out: str) -> None:
    _counting[0] = False
    found = {
        "passes": _passes,
        "seconds": _seconds,
        "tracked": len(gc.get_objects()),
        "frozen": gc.get_freeze_count(),
        "threshold": gc.get_threshold(),
    }
    with open(out, "wb") as sink:
        sink.write(orjson.dumps(found))
    os._exit(0)


def main() -> None:
    out = sys.argv[1]
    if sys.argv[2:4] != ["-m", "switchboard"]:
        raise SystemExit("usage: gc_trace.py OUT -m switchboard ARGS...")
    sys.argv = ["switchboard", *sys.argv[4:]]
    gc.callbacks.append(_timed)
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGTERM, lambda *_: _dump(out))
    runpy.run_module("switchboard", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
