"""Every field of both surfaces, mutated: a seeded walk over valid bodies for each route, each
field replaced by something hostile (deep nesting, integers past 64 bits, NaN, invalid UTF-8,
lone surrogates, NUL bytes, wrong types, duplicate keys...). What a client must see for every
one: never a 5xx; a refusal is a 4xx in its dialect's envelope, with a request id, naming the
field (or, for bytes that are not JSON at all, where they are).

Bounded: a fixed seed, a few mutations per field, about 2,000 requests in all."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.resilience.conftest import CLIENT_KEY, GatewayProcess

SEED = 20261203
PER_FIELD = 4  # mutations drawn for each field of each route


@dataclass(frozen=True)
class Raw:
    """JSON text written as is (what json.dumps cannot produce)."""

    text: bytes


@dataclass(frozen=True)
class Pairs:
    """An object written key by key: duplicate keys and keys that are not UTF-8."""

    items: tuple[tuple[bytes, Any], ...]


def dump(value: Any) -> bytes:
    match value:
        case Raw():
            return value.text
        case Pairs():
            inner = b",".join(key + b":" + dump(v) for key, v in value.items)
            return b"{" + inner + b"}"
        case dict():
            items = tuple((json.dumps(k).encode(), v) for k, v in value.items())
            return dump(Pairs(items))
        case list():
            return b"[" + b",".join(dump(v) for v in value) + b"]"
        case _:
            return json.dumps(value).encode()


def nested(depth: int, kind: str = "array") -> Raw:
    if kind == "array":
        return Raw(b"[" * depth + b"]" * depth)
    return Raw(b'{"a":' * depth + b"1" + b"}" * depth)


# (name, value, may a valid request carry it somewhere): the second kind may get a 200.
VALUES: list[tuple[str, Any, bool]] = [
    ("null", None, True),
    ("true", True, True),
    ("minus one", -1, True),
    ("zero", 0, True),
    # A number, where a float goes (a count refuses it: test_counts_past_their_bound...).
    ("2**64", 2**64, True),
    ("-2**63-1", -(2**63) - 1, True),
    ("10**30", 10**30, True),
    ("1e30", Raw(b"1e30"), True),
    ("1e400", Raw(b"1e400"), False),
    ("a float", 1.5, True),
    ("NaN", Raw(b"NaN"), False),
    ("Infinity", Raw(b"-Infinity"), False),
    ("a long string", "x" * 100_000, True),
    ("an empty string", "", True),
    ("a lone surrogate", Raw(b'"\\ud800"'), False),
    ("invalid UTF-8", Raw(b'"ok\xff\xfe"'), False),
    ("a NUL byte", "a\x00b", True),
    ("an empty object", {}, True),
    ("an empty array", [], True),
    ("an array of objects", [{}], True),
    ("nesting 300", nested(300), False),
    ("nesting 500", nested(500, "object"), False),
    ("nesting 5000", nested(5000), False),
    ("nesting 100000", nested(100_000), False),
]

ANTHROPIC_BODY: dict[str, Any] = {
    "model": "test/solo",
    "max_tokens": 32,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": "What is the weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "weather",
                    "input": {"city": "Paris", "days": [1, 2]},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "sunny"}],
                },
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ],
    "tools": [
        {
            "name": "weather",
            "description": "The weather in a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "array"}},
                "required": ["city"],
            },
        }
    ],
    "tool_choice": {"type": "auto"},
    "stop_sequences": ["STOP"],
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 5,
    "metadata": {"user_id": "u-1"},
    "stream": False,
}

OPENAI_BODY: dict[str, Any] = {
    "model": "test/solo",
    "max_tokens": 32,
    "max_completion_tokens": 32,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is the weather?"}]},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}}
            ],
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "The weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "stream": False,
    "stream_options": None,
    "temperature": 0.5,
    "top_p": 0.9,
    "stop": ["STOP"],
    "n": 1,
    "user": "u-1",
    "response_format": {"type": "text"},
}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    openai: bool
    body: dict[str, Any]


def _routes() -> list[Route]:
    routes = []
    # test/solo is translated on the Anthropic surface and relayed on the OpenAI one;
    # test/ant-pair the other way round: both paths of both surfaces.
    for model in ("test/solo", "test/ant-pair"):
        for stream in (False, True):
            routes.append(
                Route(
                    f"messages {model} stream={stream}",
                    "/v1/messages",
                    False,
                    {**ANTHROPIC_BODY, "model": model, "stream": stream},
                )
            )
            routes.append(
                Route(
                    f"chat {model} stream={stream}",
                    "/v1/chat/completions",
                    True,
                    {**OPENAI_BODY, "model": model, "stream": stream},
                )
            )
        count = {k: v for k, v in ANTHROPIC_BODY.items() if k not in ("stream", "max_tokens")}
        routes.append(
            Route(
                f"count_tokens {model}",
                "/v1/messages/count_tokens",
                False,
                {**count, "model": model},
            )
        )
    return routes


ROUTES = _routes()
Path = tuple[str | int, ...]


def paths(value: Any, at: Path = ()) -> Iterator[Path]:
    """Every field and item of a body, outermost first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*at, key)
            yield from paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*at, i)
            yield from paths(item, (*at, i))


def replaced(body: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        return {k: replaced(v, rest, new) if k == head else v for k, v in body.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(body)]


def in_parent(body: Any, path: Path, edit: str) -> Any:
    """The object holding the field at `path`, with the field dropped, duplicated with a
    wrong-typed value, or joined by a key that is not UTF-8."""
    *parent_path, key = path
    parent = body
    for step in parent_path:
        parent = parent[step]
    assert isinstance(parent, dict)
    assert isinstance(key, str)
    kept = [(k, v) for k, v in parent.items() if edit != "drop" or k != key]
    items = tuple((json.dumps(k).encode(), v) for k, v in kept)
    if edit == "duplicate":
        items += ((json.dumps(key).encode(), [[{"x": 1}]]),)
    elif edit == "key not UTF-8":
        items += ((b'"\xff\xfekey"', 1),)
    return replaced(body, tuple(parent_path), Pairs(items))


@dataclass(frozen=True)
class Case:
    route: Route
    where: str  # the dotted field path
    mutation: str
    body: bytes
    may_succeed: bool


def cases(rng: random.Random, route: Route) -> Iterator[Case]:
    for path in paths(route.body):
        where = ".".join(str(p) for p in path)
        for name, value, valid in rng.sample(VALUES, PER_FIELD):
            yield Case(route, where, name, dump(replaced(route.body, path, value)), valid)
        if isinstance(path[-1], str):
            edit = rng.choice(["drop", "duplicate", "key not UTF-8"])
            # A duplicate takes the last value (wrong here); a dropped field may be optional.
            yield Case(route, where, edit, dump(in_parent(route.body, path, edit)), True)


def request_id(resp: httpx.Response) -> str | None:
    return resp.headers.get("request-id") or resp.headers.get("x-request-id")


def problems(case: Case, resp: httpx.Response) -> list[str]:
    """What is wrong with the answer to one mutated request (nothing, when it is right)."""
    found = []
    if resp.status_code >= 500:
        return [f"{resp.status_code}: {resp.text[:300]}"]
    if not request_id(resp):
        found.append("no request id")
    if resp.status_code < 400:
        return found + ([] if case.may_succeed else [f"{resp.status_code} for an invalid value"])
    try:
        body = resp.json()
    except ValueError:
        return [*found, f"{resp.status_code} without a JSON body: {resp.text[:200]}"]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return [*found, f"not an error envelope: {body}"]
    if case.route.openai:
        if set(error) != {"message", "type", "param", "code"}:
            found.append(f"not the OpenAI envelope: {body}")
    elif body.get("type") != "error" or set(error) != {"type", "message"}:
        found.append(f"not the Anthropic envelope: {body}")
    named = f"{error['message']} {error.get('param')}"
    top = case.where.split(".")[0]
    if top not in named and "byte" not in named and "body" not in named:
        found.append(f"does not name {top}: {named}")
    return found


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    headers = {"x-api-key": CLIENT_KEY, "authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as c:
        yield c


def test_the_valid_bodies_are_served(client: httpx.Client) -> None:
    for route in ROUTES:
        resp = client.post(route.path, content=dump(route.body))
        assert resp.status_code == 200, (route.name, resp.text)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_every_field_mutated_gets_a_4xx_naming_it(client: httpx.Client, route: Route) -> None:
    rng = random.Random(f"{SEED}:{route.name}")
    failures = []
    total = 0
    for case in cases(rng, route):
        total += 1
        resp = client.post(route.path, content=case.body)
        for problem in problems(case, resp):
            failures.append(f"{case.where} <- {case.mutation}: {problem}")
    assert not failures, f"{len(failures)} of {total}:\n" + "\n".join(failures)


COUNTS = [
    ("/v1/messages", "test/solo", "max_tokens"),
    ("/v1/messages", "test/ant-pair", "max_tokens"),
    ("/v1/messages", "test/solo", "top_k"),
    ("/v1/messages/count_tokens", "test/solo", "max_tokens"),
    ("/v1/chat/completions", "test/solo", "max_tokens"),
    ("/v1/chat/completions", "test/ant-pair", "max_completion_tokens"),
    ("/v1/chat/completions", "test/ant-pair", "n"),
]


@pytest.mark.parametrize(("path", "model", "field"), COUNTS)
@pytest.mark.parametrize("value", [2**64, 10**30, 2**31])
def test_counts_past_their_bound_get_a_400_naming_them(
    client: httpx.Client, path: str, model: str, field: str, value: int
) -> None:
    """Not forwarded, not reserved against limits, never a 500 in token counting."""
    base = OPENAI_BODY if "chat" in path else ANTHROPIC_BODY
    resp = client.post(path, content=dump({**base, "model": model, field: value}))
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["message"].startswith(f"{field}: "), error
    if "chat" in path:
        assert error["param"] == field
