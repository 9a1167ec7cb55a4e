"""Logging off the hot path: a record becomes a JSON line in the request's task and goes through
a queue to a thread that writes every line waiting with one write. One JSON line per request on
the `switchboard.access` logger; no secret is ever put in a record.

As a last defence, lines pass the app's redactor (`use_redactor`, called by create_app): every
event line (warnings, tracebacks) and every access line of a failed request, the lines that
carry text the gateway did not write. An access line of a request that succeeded holds only the
gateway's own fields and skips it: the scan would cost 2-4 us a request, about what building and
queueing the line costs, for text that cannot be there."""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from switchboard.record import RequestRecord

access = logging.getLogger("switchboard.access")
events = logging.getLogger("switchboard")

_STOP = "\0stop"


class AccessLog:
    """The access line of every request. Once `start_logging` has set up the writer, the line
    goes straight onto its queue: what `logging` would add (a LogRecord, the handler chain, a
    lock) was a third of the line's cost and says nothing the line does not. Otherwise, and
    whenever the access logger is not at INFO, it is an ordinary record."""

    def __init__(self) -> None:
        self.lines: queue.SimpleQueue[str] | None = None
        self.redact: Callable[[str], str] = _unchanged

    def __call__(self, line: dict[str, Any]) -> None:
        if not access.isEnabledFor(logging.INFO):
            return
        lines = self.lines
        if lines is None:
            access.info(line)
        elif "error" in line:
            lines.put(self.redact(orjson.dumps(line).decode()) + "\n")
        else:
            lines.put(orjson.dumps(line).decode() + "\n")


def access_fields(
    record: RequestRecord, request_id: str, method: str, path: str, status: int, latency_ms: float
) -> dict[str, Any]:
    """The access line of a request: its record, as fields (none for what it never reached)."""
    line: dict[str, Any] = {
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": latency_ms,
    }
    if record.key_name is not None:
        line["key"] = record.key_name
    if record.key_id is not None:
        line["key_id"] = record.key_id
    if record.model is not None:
        line["model"] = record.model
    if record.stream is not None:
        line["stream"] = record.stream
    if record.batch_id is not None:  # the gateway's own id
        line["batch_id"] = record.batch_id
    if record.session is not None:  # validated where it was read (api/session.py)
        line["session"] = record.session
    if record.model_id is not None:
        line["model_id"] = record.model_id
        line["channel"] = record.channel
    if record.failovers:
        line["failovers"] = record.failovers
    if record.retries:
        line["retries"] = record.retries
    if record.dropped:
        line["dropped"] = list(dict.fromkeys(record.dropped))
    if record.ttft_ms is not None:
        line["ttft_ms"] = record.ttft_ms
    usage = record.usage
    if usage is not None:
        line["input_tokens"] = usage.input_tokens
        line["output_tokens"] = usage.output_tokens
        if usage.cache_read_tokens:
            line["cache_read_tokens"] = usage.cache_read_tokens
        if usage.cache_write_tokens:
            line["cache_write_tokens"] = usage.cache_write_tokens
        if usage.web_search_requests:
            line["web_search_requests"] = usage.web_search_requests
        if usage.web_fetch_requests:
            line["web_fetch_requests"] = usage.web_fetch_requests
        line["cost_nusd"] = record.cost_nusd
    if record.error_type is not None:
        line["error_type"] = record.error_type
        line["error"] = record.error
    if record.client_disconnected:
        line["client_disconnected"] = True
    return line


def _unchanged(text: str) -> str:
    return text


access_log = AccessLog()


def use_redactor(redact: Callable[[str], str]) -> None:
    """Every line from now on that may carry outside text passes `redact` (the app's)."""
    access_log.redact = redact


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):
            line = record.msg
            if "error" not in line:
                return orjson.dumps(line).decode()
        else:
            line = {"level": record.levelname.lower(), "msg": record.getMessage()}
            if record.exc_info:
                line["exc"] = self.formatException(record.exc_info)
        return access_log.redact(orjson.dumps(line).decode())


class _Enqueue(logging.Handler):
    """Formats in the caller and queues the line: no record copy, no I/O."""

    def __init__(self, lines: queue.SimpleQueue[str]) -> None:
        super().__init__()
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.put(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging's own contract: never raise into the caller
            self.handleError(record)


class LineWriter:
    """The writer thread: everything queued since its last write goes out in one write, so under
    load many lines cost one system call."""

    def __init__(self, lines: queue.SimpleQueue[str], stream: TextIO) -> None:
        self._lines = lines
        self._stream = stream
        self._thread = threading.Thread(target=self._run, name="switchboard-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._lines.get()]
            while True:
                try:
                    batch.append(self._lines.get_nowait())
                except queue.Empty:
                    break
            done = _STOP in batch
            try:
                self._stream.write("".join(line for line in batch if line is not _STOP))
                self._stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed or gone: nothing left to tell
            if done:
                return

    def stop(self) -> None:
        if self._thread.is_alive():
            self._lines.put(_STOP)
            self._thread.join(5)


def start_logging(level: str = "INFO") -> LineWriter:
    """Route the package's records through a queue; returns the writer to stop at exit."""
    # The logging HOWTO's own optimisations: no caller lookup, thread or process names per record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    writer = LineWriter(lines, sys.stderr)
    handler = _Enqueue(lines)
    handler.setFormatter(_JsonLines())
    root = logging.getLogger("switchboard")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    access_log.lines = lines
    writer.start()
    return writer
