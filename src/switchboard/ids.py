"""Identifiers that look like the real ones (`msg_01...`, `req_01...`, `toolu_01...`)."""

from __future__ import annotations

import os

_ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Each random byte becomes one base-62 character (byte mod 62) in a single C call. The mod
# favours the first 8 characters slightly: 22 characters still carry over 130 bits, plenty
# for identifiers that only need to be unique.
_TABLE = bytes(_ALPHABET[b % 62] for b in range(256))


def _base62(length: int) -> str:
    return os.urandom(length).translate(_TABLE).decode()


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
