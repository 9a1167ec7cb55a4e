"""The Claude Code session a request belongs to, for the ledger (cost by session).

Claude Code sends it in the `X-Claude-Code-Session-Id` header and, inside the JSON string it puts
in `metadata.user_id`, as `session_id` (beside its device id, which is not kept). Both are client
values: only a bounded id of plain characters is taken, anything else is no session."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from switchboard.api.bounds import SESSION_HEADER

MAX_SESSION_CHARS = 64
# A UUID and the like: nothing a header, a log line or a CSV cell could be broken by.
_SESSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class _UserId(msgspec.Struct):
    session_id: str | None = None


_decode_user_id = msgspec.json.Decoder(_UserId).decode


def valid_session(value: str | None) -> str | None:
    return value if value is not None and _SESSION.fullmatch(value) else None


def session_of(headers: Mapping[str, str], user_id: str | None) -> str | None:
    """The header's session id, else the one in `metadata.user_id`; None if neither is a
    plain id of at most MAX_SESSION_CHARS characters."""
    found = valid_session(headers.get(SESSION_HEADER))
    if found is not None or not user_id or not user_id.startswith("{"):
        return found
    try:
        return valid_session(_decode_user_id(user_id.encode()).session_id)
    except msgspec.DecodeError:  # any JSON but an object with a string session_id
        return None
