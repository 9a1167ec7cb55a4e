"""A msgspec decoding failure -> InvalidRequest naming the field the way the APIs do
(`messages.1.content: Expected ...`), shared by every dialect's request decoder."""

from __future__ import annotations

import re

import msgspec

from switchboard.errors import InvalidRequest

_INDEX = re.compile(r"\[(\d+)\]")


def invalid(exc: msgspec.DecodeError) -> InvalidRequest:
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):  # (ValidationError is a DecodeError)
        return InvalidRequest(f"The request body is not valid JSON: {text}")
    problem, _, loc = text.partition(" - at `")
    path = _INDEX.sub(r".\1", loc.rstrip("`").removeprefix("$").removeprefix("."))
    missing = re.match(r"Object missing required field `(.+)`", problem)
    if missing:
        field = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return InvalidRequest(f"{field}: Field required", param=field)
    if problem.startswith("Invalid value") and path.endswith(("type", "role")):
        known = "block type" if path.endswith("type") else "role"
        problem = f"{problem.removeprefix('Invalid value ')} is not a known {known}"
    elif problem.startswith("Expected `object`, got"):
        problem = "Input should be an object" + problem.removeprefix("Expected `object`")
    if not path:
        return InvalidRequest(problem)
    return InvalidRequest(f"{path}: {problem}", param=path)
