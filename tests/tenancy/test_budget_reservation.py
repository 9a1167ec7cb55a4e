"""A budget holds under concurrent load whatever a request leaves out. Each admitted request
reserves the most it can cost: its input estimate and its effective output limit (its own
max_tokens within the model's max_output_tokens, else the model's limit, else a safe default),
so the upstream writing every token it may never takes the spend past the budget. On one
instance (SQLite, in-process limits) and on two (PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.mock_upstream import (
    HangReply,
    JsonReply,
    ScriptedUpstream,
    anthropic_message,
    openai_completion,
)

from .gateway import MASTER, Gateway

pytestmark = pytest.mark.e2e

BUDGET_USD = 0.01
OUTPUT_LIMIT = 1000  # the models' max_output_tokens: the upstream writes all of them
PRICING = {"input": 1.0, "output": 2.0}  # a full reply is $0.002 and input: four fit in $0.01
INPUT_TOKENS = 10  # what the upstream reports: less than the gateway's estimate of any body
EACH_USD = (PRICING["input"] * INPUT_TOKENS + PRICING["output"] * OUTPUT_LIMIT) / 1e6
CONCURRENT = 50
WIDE_LIMIT = 64_000
ASK = [{"role": "user", "content": "write as much as you may"}]


def write_config(path: Path, database: str, upstream: ScriptedUpstream, **extra: Any) -> Path:
    metered = {"max_output_tokens": OUTPUT_LIMIT, "pricing": PRICING}
    wide = {"max_output_tokens": WIDE_LIMIT, "pricing": PRICING}
    config = {
        "master_key": MASTER,
        "database": database,
        "providers": [
            {"name": "oa", "kind": "openai", "base_url": upstream.openai_base, "api_key": "sk-up"},
            {"name": "ant", "kind": "anthropic", "base_url": upstream.anthropic_base},
        ],
        "models": [
            {"id": "metered/oa", "channels": [{"provider": "oa", "model": "up-1"}], **metered},
            {"id": "metered/ant", "channels": [{"provider": "ant", "model": "up-2"}], **metered},
            {"id": "unpriced/oa", "channels": [{"provider": "oa", "model": "up-3"}]},
            {"id": "unpriced/ant", "channels": [{"provider": "ant", "model": "up-4"}]},
            {"id": "wide/oa", "channels": [{"provider": "oa", "model": "up-5"}], **wide},
            {"id": "wide/ant", "channels": [{"provider": "ant", "model": "up-6"}], **wide},
            # No price here: the built-in catalogue's entry of the same id gives it one.
            {"id": "claude-haiku-4-5", "channels": [{"provider": "ant", "model": "haiku"}]},
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(params=["one instance", "two instances"])
def gateways(
    request: pytest.FixtureRequest, tmp_path: Path, upstream: ScriptedUpstream
) -> Iterator[list[Gateway]]:
    """One gateway on SQLite with in-process limits, or two sharing PostgreSQL and Redis."""
    if request.param == "one instance":
        path = write_config(tmp_path / "c.yaml", f"sqlite:///{tmp_path}/sb.db", upstream)
        count = 1
    else:
        database: str = request.getfixturevalue("postgres_url")
        redis_url, prefix = request.getfixturevalue("redis")
        path = write_config(
            tmp_path / "c.yaml", database, upstream, redis=redis_url, redis_prefix=prefix
        )
        count = 2
    started = [Gateway(path, tmp_path / f"gw{i}.log") for i in range(count)]
    try:
        yield started
    finally:
        for gateway in started:
            gateway.stop()


def budgeted_key(gateway: Gateway, **limits: Any) -> tuple[str, str]:
    status, made = gateway.admin("POST", "/admin/keys", {"name": "thrifty", **limits})
    assert status == 201, made
    return made["id"], made["key"]


def spent(gateway: Gateway, key_id: str, rows: int) -> tuple[float, Counter[int]]:
    """The key's spend and statuses in the ledger, once the writers have caught up."""
    deadline = time.monotonic() + 15
    while True:
        status, body = gateway.admin("GET", f"/admin/usage?key={key_id}&limit=1000")
        assert status == 200
        data = body["data"]
        if len(data) >= rows or time.monotonic() > deadline:
            return sum(r["cost_usd"] for r in data), Counter(r["status"] for r in data)
        time.sleep(0.2)


async def openai_without_max_tokens(gateway: Gateway, key: str, model: str) -> tuple[int, str]:
    """(status, error type) as the OpenAI SDK saw it."""
    async with openai.AsyncOpenAI(
        api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=30
    ) as client:
        try:
            await client.chat.completions.create(model=model, messages=ASK)  # type: ignore[arg-type]
        except openai.APIStatusError as err:
            return err.status_code, str(err.type)
        return 200, ""


@pytest.mark.parametrize(
    ("model", "reply"),
    [
        # The OpenAI SDK leaves max_tokens out; the body is relayed as it is, and the upstream
        # may write up to the model's limit.
        ("metered/oa", openai_completion("x", usage=(INPUT_TOKENS, OUTPUT_LIMIT))),
        # Translated for an Anthropic upstream, which is told the gateway's default, capped.
        ("metered/ant", anthropic_message("x", usage=(INPUT_TOKENS, OUTPUT_LIMIT))),
    ],
    ids=["openai pass-through", "openai to anthropic"],
)
def test_requests_without_max_tokens_never_spend_past_the_budget(
    gateways: list[Gateway], upstream: ScriptedUpstream, model: str, reply: JsonReply
) -> None:
    key_id, key = budgeted_key(gateways[0], budget_usd=BUDGET_USD)
    # Slow replies: every request is in flight before the first one settles.
    upstream.enqueue(*[HangReply(1.0, then=reply) for _ in range(CONCURRENT)])

    async def load() -> list[tuple[int, str]]:
        return await asyncio.gather(
            *(
                openai_without_max_tokens(gateways[i % len(gateways)], key, model)
                for i in range(CONCURRENT)
            )
        )

    outcomes = Counter(asyncio.run(asyncio.wait_for(load(), 60)))
    assert set(outcomes) <= {(200, ""), (402, "insufficient_quota")}, outcomes
    statuses = Counter({status: n for (status, _), n in outcomes.items()})
    served = statuses[200]
    # Each reserves $0.002 of output and its input estimate: four fit in $0.01, not five.
    assert served == 4, statuses
    assert len(upstream.received) == served
    total, ledger_statuses = spent(gateways[-1], key_id, CONCURRENT)
    assert ledger_statuses == statuses
    assert total == pytest.approx(served * EACH_USD)
    assert total <= BUDGET_USD


def test_a_float_max_tokens_is_refused_before_anything_is_reserved_or_sent(
    gateways: list[Gateway], upstream: ScriptedUpstream
) -> None:
    """`max_tokens: 1000.0` on an Anthropic pass-through is a 400 naming the field, as on the
    translated path and the real API: nothing goes upstream, nothing is spent."""
    key_id, key = budgeted_key(gateways[0], budget_usd=BUDGET_USD)
    upstream.enqueue(
        *[HangReply(1.0, then=anthropic_message("x", usage=(10, 1000))) for _ in range(10)]
    )
    body = {"model": "metered/ant", "max_tokens": 1000.0, "messages": ASK}

    async def one(client: httpx.AsyncClient, gateway: Gateway) -> httpx.Response:
        return await client.post(
            gateway.url + "/v1/messages",
            json=body,
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )

    async def load() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(
                *(one(client, gateways[i % len(gateways)]) for i in range(CONCURRENT))
            )

    replies = asyncio.run(asyncio.wait_for(load(), 60))
    assert {r.status_code for r in replies} == {400}
    error = replies[0].json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "max_tokens: Expected `int`, got `float`"
    assert upstream.received == []
    total, _ = spent(gateways[-1], key_id, CONCURRENT)
    assert total == 0


@pytest.mark.parametrize("gateways", ["one instance"], indirect=True)
def test_an_unpriced_model_refuses_a_budgeted_key_with_402_naming_the_model(
    gateways: list[Gateway], upstream: ScriptedUpstream
) -> None:
    _, budgeted = budgeted_key(gateways[0], budget_usd=BUDGET_USD)
    _, unbudgeted = budgeted_key(gateways[0], rpm=100)
    gateway = gateways[-1]
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        refused = http.post(
            "/v1/messages",
            json={"model": "unpriced/ant", "max_tokens": 5, "messages": ASK},
            headers={"x-api-key": budgeted, "anthropic-version": "2023-06-01"},
        )
        assert refused.status_code == 402
        body = refused.json()
        assert body["type"] == "error"
        assert body["error"]["type"] == "billing_error"
        assert body["error"]["message"].startswith("model: 'unpriced/ant' has no price")
        refused = http.post(
            "/v1/chat/completions",
            json={"model": "unpriced/oa", "messages": ASK},
            headers={"authorization": f"Bearer {budgeted}"},
        )
        assert refused.status_code == 402
        error = refused.json()["error"]
        assert (error["type"], error["param"]) == ("insufficient_quota", "model")
        assert error["message"].startswith("model: 'unpriced/oa' has no price")
        assert upstream.received == []
        # A key without a budget still uses it; the budgeted key still uses priced models.
        free = http.post(
            "/v1/chat/completions",
            json={"model": "unpriced/oa", "messages": ASK},
            headers={"authorization": f"Bearer {unbudgeted}"},
        )
        assert free.status_code == 200, free.text
        priced = http.post(
            "/v1/chat/completions",
            json={"model": "metered/oa", "max_tokens": 5, "messages": ASK},
            headers={"authorization": f"Bearer {budgeted}"},
        )
        assert priced.status_code == 200, priced.text


@pytest.mark.parametrize("gateways", ["one instance"], indirect=True)
def test_a_model_the_builtin_catalogue_knows_is_priced_and_bounded_like_it(
    gateways: list[Gateway], upstream: ScriptedUpstream
) -> None:
    (gateway,) = gateways
    key_id, key = budgeted_key(gateway, budget_usd=BUDGET_USD)
    upstream.enqueue(anthropic_message("x", usage=(100, 20)))
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        done = http.post(
            "/v1/messages",
            json={"model": "claude-haiku-4-5", "max_tokens": 50, "messages": ASK},
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )
        assert done.status_code == 200, done.text
        info = http.get("/v1/models/claude-haiku-4-5", headers={"x-api-key": key}).json()
    assert (info["max_input_tokens"], info["max_tokens"]) == (200_000, 64_000)
    total, _ = spent(gateway, key_id, 1)
    assert total == pytest.approx((100 * 1.0 + 20 * 5.0) / 1e6)  # $1 and $5 per million


@pytest.mark.parametrize("gateways", ["one instance"], indirect=True)
@pytest.mark.parametrize(
    ("model", "max_tokens", "output"),
    [
        # Relayed as sent: the upstream may write up to the model's limit.
        ("wide/oa", None, WIDE_LIMIT),
        ("wide/oa", 10, 10),
        # Translated: the upstream is told the gateway's default (4,096), and no more.
        ("wide/ant", None, 4096),
        ("wide/ant", 100_000, WIDE_LIMIT),
    ],
)
def test_an_openai_request_reserves_what_its_upstream_may_write(
    gateways: list[Gateway], model: str, max_tokens: int | None, output: int
) -> None:
    """What a request reserves shows in the tokens-remaining header of its own response."""
    (gateway,) = gateways
    tpm = 100_000
    _, key = budgeted_key(gateway, tpm=tpm)
    with openai.OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=model,
            messages=ASK,  # type: ignore[arg-type]
            max_tokens=openai.omit if max_tokens is None else max_tokens,
        )
    input_estimate = tpm - output - int(raw.headers["anthropic-ratelimit-tokens-remaining"])
    assert 0 < input_estimate < 100
