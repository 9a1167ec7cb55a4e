"""Runs Switchboard with a per-function count of the bytecode instructions its event loop's
thread executes: `python bench/opcode_trace.py OUT -m switchboard serve ...` (bench/opcodes.py
starts it). Counting starts at SIGUSR1 (after a warm-up); SIGTERM writes the counts to OUT
(JSON) and exits. Only the thread the signals run on (the main one) is traced: the writer
threads' work is not on a request's path."""

from __future__ import annotations

import os
import runpy
import signal
import sys
import types
from collections import Counter
from typing import Any

import orjson

Key = tuple[str, str]
_opcodes: Counter[Key] = Counter()
_calls: Counter[Key] = Counter()


def _key(frame: types.FrameType) -> Key:
    code = frame.f_code
    if code.co_filename == "<string>" and "self" in code.co_varnames:
        # Generated methods (a dataclass's `__init__`) all share one name: tell them apart
        # by the class they belong to.
        owner = type(frame.f_locals.get("self")).__qualname__
        return (code.co_filename, f"{owner}.{code.co_name}")
    return (code.co_filename, code.co_qualname)


def _local(frame: types.FrameType, event: str, arg: Any) -> Any:
    if event == "opcode":
        _opcodes[_key(frame)] += 1
    return _local


def _trace(frame: types.FrameType, event: str, arg: Any) -> Any:
    if event != "call":
        return None
    _calls[_key(frame)] += 1
    frame.f_trace_opcodes = True
    return _local


def _start(*_: object) -> None:
    _opcodes.clear()
    _calls.clear()
    sys.settrace(_trace)


def _dump(out: str) -> None:
    sys.settrace(None)
    rows = [
        {"file": f, "function": fn, "opcodes": _opcodes[f, fn], "calls": _calls[f, fn]}
        for f, fn in set(_opcodes) | set(_calls)
    ]
    with open(out, "wb") as sink:
        sink.write(orjson.dumps(rows))
    os._exit(0)


def main() -> None:
    out = sys.argv[1]
    if sys.argv[2:4] != ["-m", "switchboard"]:
        raise SystemExit("usage: opcode_trace.py OUT -m switchboard ARGS...")
    sys.argv = ["switchboard", *sys.argv[4:]]
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGTERM, lambda *_: _dump(out))
    runpy.run_module("switchboard", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
