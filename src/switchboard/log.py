"""Logging off the hot path: records go through a queue to a thread that writes them. One JSON
line per request on the `switchboard.access` logger; no secret is ever put in a record."""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
from typing import Any

import orjson

access = logging.getLogger("switchboard.access")
events = logging.getLogger("switchboard")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):
            return orjson.dumps(record.msg).decode()
        line: dict[str, Any] = {"level": record.levelname.lower(), "msg": record.getMessage()}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def start_logging(level: str = "INFO") -> logging.handlers.QueueListener:
    """Route the package's records through a queue; returns the listener to stop at exit."""
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = logging.StreamHandler(sys.stderr)
    listener = logging.handlers.QueueListener(q, writer)
    handler = logging.handlers.QueueHandler(q)
    handler.setFormatter(_JsonLines())  # formats before queueing: the writer prints lines
    root = logging.getLogger("switchboard")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    listener.start()
    return listener
