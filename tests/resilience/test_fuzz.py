"""Hostile and malformed requests against the running gateway: never a 5xx for a client's
mistake, never a hang, always the error envelope, and the gateway keeps serving.

Two fuzzers: hypothesis over shapes (below), and a seeded walk over every field of valid
bodies for each route of both surfaces and the admin API, each field replaced by something
hostile (deep nesting, integers past 64 bits, NaN, invalid UTF-8, lone surrogates, NUL bytes,
wrong types, duplicate keys...). For every answer: never a 5xx; a refusal is a 4xx in the
client's dialect envelope, with a request id, naming the field (or, for bytes that are not
JSON at all, the byte). Bounded: a fixed seed, a few mutations per field, about 4,000
requests in all."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.resilience.conftest import CLIENT_KEY, MASTER_KEY, post
from tests.support.gateway import GatewayProcess

PATHS = [
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/chat/completions",
    "/openai/v1/chat/completions",
]
VALID: dict[str, dict[str, Any]] = {
    "/v1/messages": {
        "model": "test/solo",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}],
    },
    "/v1/chat/completions": {"model": "test/solo", "messages": [{"role": "user", "content": "hi"}]},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "model",
        "messages",
        "max_tokens",
        "stream",
        "system",
        "tools",
        "tool_choice",
        "metadata",
        "temperature",
        "stop_sequences",
        "thinking",
        "content",
        "role",
        "stream_options",
        "n",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid body with a few fields replaced, removed or nested wrong."""
    path = draw(st.sampled_from(sorted(VALID)))
    body: dict[str, Any] = json.loads(json.dumps(VALID[path]))
    for _ in range(draw(st.integers(1, 3))):
        name = draw(field_names)
        if draw(st.booleans()):
            body[name] = draw(json_values)
        else:
            body.pop(name, None)
    if draw(st.booleans()):
        body["messages"] = [
            {
                "role": draw(st.sampled_from(["user", "assistant", "system", "x"])),
                "content": draw(json_values),
            }
        ]
    return json.dumps(body).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated(),
    st.just(b"{" * 5000),  # deep nesting
    st.just(b'{"model": "test/solo", "max_tokens": 1e999, "messages": []}'),
)
# What an HTTP client will send at all: printable ASCII without surrounding blanks.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).filter(
    lambda s: s == s.strip()
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            ["application/json", "text/plain", "", "multipart/form-data"]
        ),
        "anthropic-version": header_text,
        "anthropic-beta": header_text,
        "x-claude-code-session-id": header_text,
        "x-api-key": header_text,
    },
)


def _check(resp: httpx.Response, path: str) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    if resp.status_code >= 400:
        body = resp.json()
        error = body["error"]
        assert isinstance(error["message"], str)
        assert isinstance(error["type"], str)
        if "chat/completions" not in path:
            assert body["type"] == "error"


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), body=bodies, extra=headers, authorized=st.booleans())
def test_hostile_requests_get_envelopes_never_5xx(
    gateway: GatewayProcess, path: str, body: bytes, extra: dict[str, str], authorized: bool
) -> None:
    sent = dict(extra)
    if authorized:
        sent["x-api-key"] = CLIENT_KEY
        sent["authorization"] = f"Bearer {CLIENT_KEY}"
    resp = httpx.post(gateway.url + path, content=body, headers=sent, timeout=10)
    _check(resp, path)


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
    ("2**31", 2**31, True),
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
    # Valid JSON: refused where the gateway must encode it again (test_deep_values_...),
    # ignored where it is dropped (cache_control on a translated request).
    ("nesting 300", nested(300), True),
    ("nesting 500", nested(500, "object"), True),
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
    found: str | None = resp.headers.get("request-id") or resp.headers.get("x-request-id")
    return found


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
    if top not in named and "not valid JSON" not in named:
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


DEEP = [
    ("/v1/messages", "test/solo", ("messages", 1, "content", 1, "input", "city")),
    ("/v1/messages", "test/ant-pair", ("messages", 1, "content", 1, "input", "city")),
    ("/v1/messages/count_tokens", "test/solo", ("tools", 0, "input_schema", "properties")),
    ("/v1/chat/completions", "test/ant-pair", ("tools", 0, "function", "parameters", "type")),
    ("/v1/chat/completions", "test/solo", ("tools", 0, "function", "parameters", "type")),
    ("/v1/chat/completions", "test/ant-pair", ("response_format",)),
]


@pytest.mark.parametrize(("path", "model", "where"), DEEP)
@pytest.mark.parametrize("depth", [300, 500, 5000, 100_000])
def test_deep_values_are_refused_naming_the_spot(
    client: httpx.Client, path: str, model: str, where: Path, depth: int
) -> None:
    """Nesting the gateway could not encode again for an upstream (orjson stops at 254
    levels; msgspec at Python's recursion limit) is a 400 that says where it is."""
    base = OPENAI_BODY if "chat" in path else ANTHROPIC_BODY
    if where == ("response_format",):
        value: Any = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
        value["json_schema"]["schema"] = {"type": "object", "properties": {"a": nested(depth)}}
        field = "response_format.json_schema.schema.properties.a"
    else:
        value = nested(depth)
        field = ".".join(str(p) for p in where)
    body = dump(replaced({**base, "model": model}, where, value))
    resp = client.post(path, content=body)
    assert resp.status_code == 400, resp.text[:500]
    error = resp.json()["error"]
    assert "nested deeper than" in error["message"], error
    assert error["message"].startswith(field), error


QUERY_VALUES = [
    "99999999999999999999999",
    "-1",
    "1e3",
    "",
    "²",
    "١٢",
    "%00",
    "%ff%fe",
    "x" * 5000,
    "99999999999999999999d",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "²d",
]
QUERY_FIELDS = ["limit", "since", "until", "group_by", "key", "model"]


def _admin_problems(resp: httpx.Response) -> list[str]:
    if resp.status_code >= 500:
        return [f"{resp.status_code}: {resp.text[:300]}"]
    if not request_id(resp):
        return ["no request id"]
    if resp.status_code >= 400:
        body = resp.json()
        if body.get("type") != "error" or not isinstance(body["error"].get("message"), str):
            return [f"not the Anthropic envelope: {body}"]
    return []


@pytest.fixture(scope="module")
def admin(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers={"x-api-key": MASTER_KEY}, timeout=10) as c:
        yield c


def test_admin_query_parameters_get_a_4xx_naming_them(admin: httpx.Client) -> None:
    failures = []
    for field in QUERY_FIELDS:
        for value in QUERY_VALUES:
            for path in ("/admin/usage", "/admin/keys"):
                for extra in ("", "&group_by=day"):
                    resp = admin.get(f"{path}?{field}={value}{extra}")
                    found = _admin_problems(resp)
                    if resp.status_code >= 400 and field not in resp.text:
                        found.append(f"does not name {field}: {resp.text[:200]}")
                    failures += [f"{path} {field}={value[:30]}{extra}: {p}" for p in found]
    assert not failures, "\n".join(failures)


KEY_BODY: dict[str, Any] = {
    "name": "fuzzed",
    "models": ["test/*"],
    "rpm": 10,
    "tpm": 1000,
    "max_concurrent": 2,
    "budget_usd": 1.5,
    "budget_period": "month",
    "expires_at": "2999-01-01T00:00:00Z",
}


def test_admin_key_bodies_get_a_4xx_naming_the_field(admin: httpx.Client) -> None:
    created = admin.post("/admin/keys", content=dump(KEY_BODY))
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    failures = []
    for field in KEY_BODY:
        for name, value, _ in VALUES:
            body = dump({**KEY_BODY, field: value})
            for method, path in (("POST", "/admin/keys"), ("PATCH", f"/admin/keys/{key_id}")):
                resp = admin.request(method, path, content=body)
                found = _admin_problems(resp)
                if resp.status_code >= 400 and field not in resp.text and "body" not in resp.text:
                    found.append(f"does not name {field}: {resp.text[:200]}")
                failures += [f"{method} {field} <- {name}: {p}" for p in found]
    assert not failures, "\n".join(failures)


def _raw_request(gateway: GatewayProcess, head: bytes) -> tuple[int, bytes]:
    """Bytes no HTTP client library will send: a header value that is not UTF-8."""
    assert gateway.port is not None
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(head)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 4 + _length(
            reply
        ):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, reply


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value)
    return 0


KEYS_NOT_UTF8 = [
    b"\xff\xfe",
    b"sk-sb-\xff\xfe\xfd",
    CLIENT_KEY.encode() + b"\xc3",
    b"\xed\xa0\x80",  # a surrogate, UTF-8 encoded
    b"sk-sb-" + b"\x80" * 200,
]


@pytest.mark.parametrize("key", KEYS_NOT_UTF8, ids=range(len(KEYS_NOT_UTF8)))
@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/v1/messages", b"x-api-key: "),
        ("/v1/messages", b"authorization: Bearer "),
        ("/v1/chat/completions", b"authorization: Bearer "),
        ("/admin/keys", b"x-api-key: "),
    ],
)
def test_keys_that_are_not_utf8_get_a_401(
    gateway: GatewayProcess, path: str, header: bytes, key: bytes
) -> None:
    body = dump(ANTHROPIC_BODY if "messages" in path else OPENAI_BODY)
    method = b"GET" if path.startswith("/admin") else b"POST"
    head = (
        method
        + b" "
        + path.encode()
        + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        + header
        + key
        + b"\r\ncontent-type: application/json\r\n"
        + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        + body
    )
    status, reply = _raw_request(gateway, head)
    assert status == 401, reply[:500]
    assert b"request-id: " in reply
    assert b'"authentication_error"' in reply or b'"invalid_request_error"' in reply


def test_the_gateway_still_serves_after_the_fuzzing(gateway: GatewayProcess) -> None:
    resp = post(gateway, VALID["/v1/messages"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["text"] == "ok"
