"""`POST /v1/embeddings` through the real gateway to a scripted OpenAI-dialect upstream that
embeds as OpenAI does (floats or base64, as asked), driven by the openai SDK: the body relayed
but for `model`, the usage metered and priced in the ledger, errors in OpenAI's envelope."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import JsonReply, Received, Reply, ScriptedUpstream

MASTER = "sk-embed-master"
KEY = "sk-embed-alice"
PRICE = 0.5  # USD per million input tokens


def _vector(text: Any, dimensions: int) -> list[float]:
    seed = len(str(text))
    return [float(seed + i) / 8 for i in range(dimensions)]


def embed(rec: Received) -> Reply:
    """OpenAI's reply: one embedding per input, in the format asked; a token per 4 bytes."""
    body = rec.json
    if rec.path != "/v1/embeddings" or not isinstance(body, dict):
        return JsonReply({"error": {"message": "not scripted", "type": "invalid"}}, status=404)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    if inputs and isinstance(inputs[0], int):
        inputs = [inputs]
    dims = body.get("dimensions", 4)
    data = []
    for i, item in enumerate(inputs):
        vector = _vector(item, dims)
        packed = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        value = packed if body.get("encoding_format") == "base64" else vector
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(len(x) if isinstance(x, list) else max(1, len(x) // 4) for x in inputs)
    return JsonReply(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream(responder=embed) as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream) -> Iterator[GatewayProcess]:
    config = {
        "master_key": MASTER,
        "keys": [{"name": "alice", "key": KEY}],
        "providers": [
            {"name": "up", "kind": "openai", "base_url": upstream.base_url + "/v1", "api_key": "u"}
        ],
        "models": [
            {
                "id": "embed-test",
                "endpoints": ["embeddings"],
                "channels": [{"provider": "up", "model": "upstream-embed"}],
                "pricing": {"input": PRICE},
            },
            {"id": "chat-test", "channels": [{"provider": "up", "model": "upstream-chat"}]},
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw


@pytest.fixture(scope="module")
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0)


def test_sdk_embeds_strings(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    # The SDK asks for base64 by default and decodes it: the vectors come back as floats.
    got = client.embeddings.create(model="embed-test", input=["hello world", "hi"])
    assert [d.index for d in got.data] == [0, 1]
    assert got.data[0].embedding == pytest.approx(_vector("hello world", 4))
    assert got.data[1].embedding == pytest.approx(_vector("hi", 4))
    assert got.model == "embed-test"
    assert (got.usage.prompt_tokens, got.usage.total_tokens) == (3, 3)
    sent = upstream.received[before:][-1]
    assert sent.path == "/v1/embeddings"
    assert sent.headers["authorization"] == "Bearer u"
    assert sent.json == {
        "model": "upstream-embed",
        "input": ["hello world", "hi"],
        "encoding_format": "base64",
    }


def test_floats_tokens_and_dimensions(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    got = client.embeddings.create(
        model="embed-test", input=[[1, 2, 3]], encoding_format="float", dimensions=6
    )
    assert len(got.data[0].embedding) == 6
    assert got.usage.prompt_tokens == 3
    sent = upstream.received[-1].json
    assert isinstance(sent, dict)
    assert (sent["dimensions"], sent["encoding_format"]) == (6, "float")
    assert sent["input"] == [[1, 2, 3]]


def test_under_the_openai_prefix(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/openai", api_key=KEY, max_retries=0)
    got = client.embeddings.create(model="embed-test", input="one string")
    assert len(got.data) == 1


def test_metered_and_priced_in_the_ledger(client: openai.OpenAI, gateway: GatewayProcess) -> None:
    text = "x" * 4000  # 1000 tokens at the scripted upstream's rate
    client.embeddings.create(model="embed-test", input=text, encoding_format="float")
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        resp = httpx.get(
            gateway.url + "/admin/usage?limit=100",
            headers={"authorization": f"Bearer {MASTER}"},
            timeout=10,
        )
        rows = [r for r in resp.json()["data"] if r["input_tokens"] == 1000]
        if rows:
            break
        time.sleep(0.1)
    (row,) = rows
    assert row["model"] == "embed-test"
    assert row["output_tokens"] == 0
    assert row["cost_usd"] == pytest.approx(1000 * PRICE / 1e6)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "chat-test", "input": "x"}, 404, "model"),
        ({"model": "nope", "input": "x"}, 404, "model"),
        ({"model": "embed-test"}, 400, "input"),
        ({"model": "embed-test", "input": []}, 400, "input"),
        ({"model": "embed-test", "input": ["a", [1]]}, 400, "input.1"),
        ({"model": "embed-test", "input": "x", "encoding_format": "hex"}, 400, "encoding_format"),
        ({"model": "embed-test", "input": "x", "dimensions": 0}, 400, "dimensions"),
    ],
)
def test_refusals_in_openai_envelope(
    gateway: GatewayProcess, body: dict[str, Any], status: int, param: str
) -> None:
    resp = httpx.post(
        gateway.url + "/v1/embeddings",
        json=body,
        headers={"authorization": f"Bearer {KEY}"},
        timeout=10,
    )
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["param"] == param
    assert resp.headers["x-request-id"].startswith("req_")


def test_an_embeddings_model_is_not_a_chat_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="embed-test", messages=[{"role": "user", "content": "hi"}]
        )
    listed = {m.id for m in client.models.list()}
    assert {"embed-test", "chat-test"} <= listed
