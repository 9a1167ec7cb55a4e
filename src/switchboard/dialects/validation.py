"""Client JSON judged at the edge, shared by every dialect's request decoder: a msgspec decoding
failure -> InvalidRequest naming the field the way the APIs do (`messages.1.content: Expected
...`), and the bounds on free-form values (tool inputs, schemas) that the gateway must be able
to encode again for an upstream: at most MAX_DEPTH levels of nesting, integers in 64 bits.

Nothing here runs per field on the hot path: the typed decode does the work, free-form values
are checked by encoding them once (orjson, in C), and locating what is wrong (Python) runs only
once something is."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec
import orjson

from switchboard.errors import InvalidRequest

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)

_INDEX = re.compile(r"\[(\d+)\]")

# orjson encodes at most 254 levels. An encoder puts a client's value at most a few levels
# down in an upstream body (`tools.0.function.parameters`); this leaves it 24 levels of room.
MAX_DEPTH = 230
_ROOM = 24
# Counts (max_tokens, top_k, n...) above this are refused: no model comes near, and limits,
# budgets and the ledger stay in ordinary integer arithmetic.
MAX_COUNT = 2**31 - 1
Count = msgspec.Meta(ge=0, le=MAX_COUNT)
_INT_RANGE = range(-(2**63), 2**64)
# Locating a bad spot in a body is error-path work, in Python; this bounds it (about 0.1 s)
# so that a huge body cannot make every refusal expensive.
_MAX_STEPS = 300_000
_PATH_STEPS = 12


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


def decode(decoder: Callable[[bytes], T], body: bytes) -> T:
    """The one way a client's body is decoded: every failure is a 400 naming the field."""
    try:
        return decoder(body)
    except msgspec.DecodeError as exc:
        raise invalid(exc) from None
    except RecursionError:
        # msgspec nests as deep as Python's stack allows, then gives up.
        raise too_deep(body) from None


def check_count(name: str, value: object) -> None:
    """A count a head reads loosely, refused above MAX_COUNT (naming the field): what limits
    reserve (and a pass-through forwards) is bounded."""
    if type(value) is int and value > MAX_COUNT:
        raise InvalidRequest(
            f"{name}: Input should be less than or equal to {MAX_COUNT}", param=name
        )


_decode_keys = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


class BodyDecoder(Generic[S]):
    """A client's whole body as the `struct` type reads it, with the top-level fields it set
    (not null) that the type does not read: what no translation carries, for the loss report."""

    __slots__ = ("_carried", "_decode")

    def __init__(self, struct: type[S]) -> None:
        self._decode = msgspec.json.Decoder(struct).decode
        self._carried = frozenset(struct.__struct_fields__)

    def __call__(self, body: bytes) -> tuple[S, list[str]]:
        typed = decode(self._decode, body)
        dropped = [
            k
            for k, v in decode(_decode_keys, body).items()
            if k not in self._carried and bytes(v) != b"null"
        ]
        return typed, dropped


def loose_items(decoder: Callable[[bytes], list[T]], raw: msgspec.Raw) -> list[T]:
    """The items of a raw JSON array, read leniently for routing: none when it is not an array
    the decoder takes (the full decode names what is wrong with it)."""
    if not bytes(raw).startswith(b"["):
        return []
    try:
        return decoder(raw)
    except msgspec.DecodeError:
        return []


def too_deep(body: bytes, where: str = "") -> InvalidRequest:
    """The refusal of a body (or a JSON string at `where`) nested past MAX_DEPTH."""
    path = _deep_path(body)
    field = where if path is None else ".".join(p for p in (where, path) if p)
    return InvalidRequest(
        f"{field or 'body'}: JSON nested deeper than {MAX_DEPTH} levels is not accepted",
        param=field or None,
    )


def encodable(values: list[Any], body: bytes) -> None:
    """The free-form values of a request (tool inputs, schemas) as the gateway must be able
    to encode them for an upstream: refused, naming the spot in the client's `body`, when one
    nests too deep or holds an integer past 64 bits. One orjson encode of them all, wrapped in
    the room an upstream body may add around a value."""
    if not values:  # (no tool inputs or schemas: most requests of a plain chat)
        return
    wrapped: Any = values
    for _ in range(_ROOM - 1):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except TypeError:
        raise _unencodable(body) from None


def parse_json(text: str) -> Any:
    """JSON inside a string (OpenAI tool-call arguments), or None when it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _unencodable(body: bytes) -> InvalidRequest:
    """What in `body` orjson could not encode, found by walking all of it (the error path
    only); JSON inside strings (tool-call arguments) is walked too."""
    try:
        value = json.loads(body)
    except RecursionError:
        return too_deep(body)
    except ValueError:
        value = None
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    steps = 0
    while stack and steps < _MAX_STEPS:
        steps += 1
        node, at, depth = stack.pop()
        if depth > MAX_DEPTH:
            at = _short(at)
            return InvalidRequest(
                f"{at}: JSON nested deeper than {MAX_DEPTH} levels is not accepted", param=at
            )
        if isinstance(node, dict):
            stack.extend((v, f"{at}.{k}".lstrip("."), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{at}.{i}".lstrip("."), depth + 1) for i, v in enumerate(node))
        elif isinstance(node, int) and not isinstance(node, bool) and node not in _INT_RANGE:
            return InvalidRequest(f"{at}: integers must fit in 64 bits", param=at)
        elif isinstance(node, str) and node.startswith(("{", "[")):
            # A string that is not JSON is just a string.
            with contextlib.suppress(ValueError, RecursionError):
                stack.append((json.loads(node), at, depth))
    return InvalidRequest(
        f"a tool input or schema nests deeper than {MAX_DEPTH} levels or holds an integer "
        "past 64 bits"
    )


def _short(path: str, steps: int = _PATH_STEPS) -> str:
    """Where a deep value starts is enough to find it; all of it would be 230 steps."""
    parts = path.split(".")
    return path if len(parts) <= steps else ".".join(parts[:steps]) + ".…"


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.S)


def _deep_path(body: bytes) -> str | None:
    """The dotted path to where `body` first nests past MAX_DEPTH (None if not found within
    the scan's bound): keys and indices tracked token by token."""
    stack: list[list[Any]] = []  # per open container: [is_object, key or index, expecting_key]
    for n, match in enumerate(_TOKEN.finditer(body)):
        if n > _MAX_STEPS:
            return None
        token = match.group()
        if token in (b"{", b"["):
            if len(stack) >= MAX_DEPTH:
                return _short(".".join(str(e[1]) for e in stack if e[1] is not None))
            stack.append([token == b"{", None if token == b"{" else 0, token == b"{"])
        elif token in (b"}", b"]"):
            if stack:
                stack.pop()
        elif not stack:
            continue
        elif token == b",":
            top = stack[-1]
            if top[0]:
                top[2] = True
            else:
                top[1] = (top[1] or 0) + 1
        elif token == b":":
            stack[-1][2] = False
        elif stack[-1][0] and stack[-1][2]:
            try:
                stack[-1][1] = orjson.loads(token)
            except orjson.JSONDecodeError:
                stack[-1][1] = token[1:-1].decode("utf-8", "replace")
    return None


def load_body(body: bytes) -> Any:
    """A client's whole body as plain values, for the pass-through's edit of it."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None


def dump_body(data: Any, body: bytes) -> bytes:
    """The pass-through's edited body encoded again: refused, naming the spot in the client's
    `body`, when it nests deeper than an encoder can go."""
    try:
        return orjson.dumps(data)
    except TypeError:
        raise too_deep(body) from None
