"""Identifiers that look like the real ones (`msg_01...`, `req_01...`, `toolu_01...`)."""

from __future__ import annotations

import os
import threading

_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Each random byte becomes one base-62 character (byte mod 62) in a single C call. The mod
# favours the first 8 characters slightly: 22 characters still carry over 130 bits, plenty
# for identifiers that only need to be unique.
_TABLE = bytes(_ALPHABET[b % 62] for b in range(256))


class _Entropy:
    """The OS's random bytes, read a page at a time: a request takes three ids, and a
    `getrandom` call for each was three system calls per request. The bytes are the same
    unpredictable ones, handed out once each; a forked child starts a page of its own (two
    workers must never hand out the same bytes)."""

    PAGE = 4096

    def __init__(self) -> None:
        self._page = b""
        self._at = 0
        self._lock = threading.Lock()  # ids are made on the event loop; a thread stays safe
        os.register_at_fork(after_in_child=self._drop)

    def _drop(self) -> None:
        self._page, self._at = b"", 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:
            at = self._at
            if at + n > len(self._page):
                self._page, at = os.urandom(max(self.PAGE, n)), 0
            self._at = at + n
            return self._page[at : at + n]


_entropy = _Entropy()


def _base62(length: int) -> str:
    return _entropy.take(length).translate(_TABLE).decode()


def message_id() -> str:
    return "msg_01" + _base62(22)


def request_id() -> str:
    return "req_01" + _base62(22)


def tool_use_id() -> str:
    return "toolu_01" + _base62(22)


def completion_id() -> str:
    return "chatcmpl-" + _base62(22)


def server_tool_use_id() -> str:
    return "srvtoolu_01" + _base62(22)


def response_id() -> str:
    """A Responses API id (`resp_...`)."""
    return "resp_" + _base62(40)


def item_id(prefix: str) -> str:
    """A Responses output item's id: `msg_`, `fc_`, `rs_`..."""
    return f"{prefix}_" + _base62(40)


def batch_id() -> str:
    return "msgbatch_01" + _base62(22)


def openai_batch_id() -> str:
    return "batch_" + _base62(24)
