"""Identifiers that look like the real ones (`msg_01...`, `req_01...`, `toolu_01...`)."""

from __future__ import annotations

import os

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(n_bytes: int) -> str:
    n = int.from_bytes(os.urandom(n_bytes), "big")
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(out) or "0"


def message_id() -> str:
    return "msg_01" + _base62(16)


def request_id() -> str:
    return "req_01" + _base62(16)


def tool_use_id() -> str:
    return "toolu_01" + _base62(16)


def completion_id() -> str:
    return "chatcmpl-" + _base62(16)
