"""Stored responses read back and deleted with the real `openai` SDK: `GET /v1/responses/{id}`
(`client.responses.retrieve`), `DELETE` (`client.responses.delete`) and `GET .../input_items`
(`client.responses.input_items.list`), under `/v1` and `/openai`. Only the key that made a
response sees it (another key gets the 404 an unknown id gets); a deleted response is gone for
`previous_response_id` too; with storage off, or an id that cannot be one, a 400 naming it."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.recording import Recorder
from tests.tenancy.services import postgres_database

from .conftest import ALICE, BOB, gateway_config, make_client
from .test_sdk import MODELS, text_reply

pytestmark = pytest.mark.e2e


def error_of(caught: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    """The OpenAI envelope's `error`, with the request id the gateway answered with."""
    assert caught.value.response.headers["x-request-id"].startswith("req_")
    body = caught.value.body
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("model", MODELS)
def test_retrieve_after_create(
    client: openai.OpenAI, upstream: ScriptedUpstream, model: str
) -> None:
    upstream.enqueue(text_reply(model, "Hello there", stream=False, thinking="Hm."))
    made = client.responses.create(
        model=model, input="Say hello", metadata={"run": "r1"}, max_output_tokens=300
    )
    got = client.responses.retrieve(made.id)
    assert got.model_dump() == made.model_dump()
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.retrieve(made.id, stream=True)
    assert error_of(caught)["param"] == "stream"
    assert got.output_text == "Hello there"
    assert len(upstream.received) == 1  # read from storage, not asked again


@pytest.mark.parametrize("model", MODELS)
def test_retrieve_after_stream(
    client: openai.OpenAI, upstream: ScriptedUpstream, model: str
) -> None:
    upstream.enqueue(text_reply(model, "Hello there", stream=True, thinking="Let me think."))
    stream = client.responses.create(
        model=model,
        input="Say hello",
        reasoning={"effort": "low", "summary": "auto"},
        stream=True,
    )
    completed = [e.response for e in stream if e.type == "response.completed"]
    assert len(completed) == 1
    final = completed[0]
    got = client.responses.retrieve(final.id)
    assert got.status == "completed"
    assert got.model_dump() == final.model_dump()  # the object `response.completed` carried
    assert [item.type for item in got.output] == ["reasoning", "message"]


@pytest.mark.parametrize("base", ["/openai", "/openai/v1"])
def test_under_openai(
    gateway: GatewayProcess, upstream: ScriptedUpstream, recorder: Recorder, base: str
) -> None:
    client = openai.OpenAI(
        base_url=gateway.url + base,
        api_key=ALICE,
        max_retries=0,
        http_client=httpx.Client(transport=recorder),
    )
    upstream.enqueue(text_reply("gpt-test", "ok", stream=False))
    made = client.responses.create(model="gpt-test", input="hi")
    assert client.responses.retrieve(made.id).id == made.id
    assert [i.type for i in client.responses.input_items.list(made.id)] == ["message"]
    client.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)


def test_delete_then_gone(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(text_reply("gpt-test", "Noted.", stream=False))
    made = client.responses.create(model="gpt-test", input="My name is Ada.")
    raw = client.responses.with_raw_response.delete(made.id)
    assert raw.http_response.status_code == 200
    assert raw.http_response.json() == {
        "id": made.id,
        "object": "response.deleted",
        "deleted": True,
    }
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(made.id)
    assert error_of(caught)["param"] == "response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(made.id)  # already gone
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(made.id)
    # Gone for continuing it too.
    with pytest.raises(openai.NotFoundError) as continued:
        client.responses.create(model="gpt-test", input="?", previous_response_id=made.id)
    assert error_of(continued)["param"] == "previous_response_id"
    assert len(upstream.received) == 1


def test_another_keys_response_is_not_found(
    client: openai.OpenAI, upstream: ScriptedUpstream, gateway: GatewayProcess, recorder: Recorder
) -> None:
    upstream.enqueue(text_reply("gpt-test", "secret", stream=False))
    made = client.responses.create(model="gpt-test", input="hi")
    bob = make_client(gateway, BOB, recorder)
    unknown = "resp_" + "0" * 40
    answers: list[dict[str, Any]] = []
    for response_id in (made.id, unknown):
        for call in (
            bob.responses.retrieve,
            bob.responses.delete,
            lambda i: bob.responses.input_items.list(i),
        ):
            with pytest.raises(openai.NotFoundError) as caught:
                call(response_id)
            answers.append(error_of(caught))
    # Bob cannot tell Alice's response from one that never was.
    theirs, never = answers[:3], answers[3:]
    for a, b in zip(theirs, never, strict=True):
        assert a["param"] == b["param"] == "response_id"
        assert a["code"] == b["code"] == "not_found"
        assert a["message"].replace(made.id, "X") == b["message"].replace(unknown, "X")
    # Bob's delete deleted nothing.
    assert client.responses.retrieve(made.id).output_text == "secret"


def test_unknown_and_store_false(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve("resp_unknown")
    error = error_of(caught)
    assert error["param"] == "response_id"
    assert "resp_unknown" in error["message"]
    upstream.enqueue(text_reply("gpt-test", "ok", stream=False))
    kept_not = client.responses.create(model="gpt-test", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(kept_not.id)


@pytest.mark.parametrize(
    "bad",
    [
        "resp_" + "a" * 60,
        "resp_a b",
        "resp_'; DROP TABLE responses;--",
        "résp_1",
        "resp_%2F",
        "x" * 5000,
    ],
    ids=["long", "space", "quote", "unicode", "percent", "huge"],
)
def test_bad_id(client: openai.OpenAI, upstream: ScriptedUpstream, bad: str) -> None:
    for call in (
        client.responses.retrieve,
        client.responses.delete,
        lambda i: client.responses.input_items.list(i),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            call(bad)
        error = error_of(caught)
        assert error["param"] == "response_id"
        assert "response_id" in error["message"]
        assert bad not in error["message"]  # never echoed
    assert upstream.received == []


def test_storage_off(upstream: ScriptedUpstream, recorder: Recorder) -> None:
    with GatewayProcess(gateway_config(upstream, store=False)) as gw:
        client = make_client(gw, ALICE, recorder)
        upstream.enqueue(text_reply("gpt-test", "ok", stream=False))
        made = client.responses.create(model="gpt-test", input="hi")
        for call in (
            client.responses.retrieve,
            client.responses.delete,
            lambda i: client.responses.input_items.list(i),
        ):
            with pytest.raises(openai.BadRequestError) as caught:
                call(made.id)
            error = error_of(caught)
            assert error["param"] == "response_id"
            assert "responses.store" in error["message"]
            assert "does not store responses" in error["message"]


def test_unauthenticated(gateway: GatewayProcess, recorder: Recorder) -> None:
    stranger = make_client(gateway, "sk-not-a-key", recorder)
    with pytest.raises(openai.AuthenticationError):
        stranger.responses.retrieve("resp_unknown")
    with pytest.raises(openai.AuthenticationError):
        stranger.responses.delete("resp_unknown")
    with pytest.raises(openai.AuthenticationError):
        stranger.responses.input_items.list("resp_unknown")


def test_input_items(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(text_reply("gpt-test", "Noted: Ada.", stream=False))
    first = client.responses.create(
        model="gpt-test",
        input=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "user", "content": [{"type": "input_text", "text": "Remember it."}]},
        ],
    )
    upstream.enqueue(text_reply("gpt-test", "Ada.", stream=True))
    with client.responses.stream(
        model="gpt-test", input="What is my name?", previous_response_id=first.id
    ) as stream:
        second = stream.get_final_response()

    page = client.responses.input_items.list(first.id, order="asc")
    assert page.object == "list"  # type: ignore[attr-defined]
    assert [(i.type, getattr(i, "role", None)) for i in page.data] == [
        ("message", "user"),
        ("message", "user"),
    ]
    texts = [part.text for item in page.data for part in item.content]  # type: ignore[union-attr]
    assert texts == ["My name is Ada.", "Remember it."]
    assert all(item.id for item in page.data)

    # The second response's input is the whole conversation it continued, newest first by
    # default, as OpenAI orders it.
    newest_first = list(client.responses.input_items.list(second.id))
    assert [i.type for i in newest_first] == ["message"] * 4
    assert newest_first[0].content[0].text == "What is my name?"  # type: ignore[union-attr,index]
    assert newest_first[1].id == first.output[0].id  # the first response's output, as served
    assert newest_first[1].role == "assistant"  # type: ignore[union-attr]
    # Ids are stable from one read to the next: the SDK pages by them.
    paged = list(client.responses.input_items.list(second.id, limit=1))
    assert [i.id for i in paged] == [i.id for i in newest_first]
    asc = client.responses.input_items.list(second.id, order="asc", limit=3)
    assert asc.has_more is True  # type: ignore[attr-defined]
    assert [i.id for i in asc.data] == [i.id for i in reversed(newest_first)][:3]


def test_input_items_query_checked(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(text_reply("gpt-test", "ok", stream=False))
    made = client.responses.create(model="gpt-test", input="hi")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"extra_query": {"limit": "ten"}}, "limit"),
        ({"extra_query": {"order": "sideways"}}, "order"),
        ({"after": "msg_not_in_this_list"}, "after"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.input_items.list(made.id, **kwargs)
        assert error_of(caught)["param"] == param


def test_on_postgresql(upstream: ScriptedUpstream, recorder: Recorder) -> None:
    """The same reads and delete with the gateway on PostgreSQL (the rest run on SQLite; the
    store's own tests run on both)."""
    with postgres_database() as url:
        config = {**gateway_config(upstream, store=True), "database": url}
        with GatewayProcess(config) as gw:
            alice, bob = make_client(gw, ALICE, recorder), make_client(gw, BOB, recorder)
            upstream.enqueue(text_reply("gpt-test", "Hello", stream=True))
            stream = alice.responses.create(model="gpt-test", input="hi", stream=True)
            (final,) = [e.response for e in stream if e.type == "response.completed"]
            assert alice.responses.retrieve(final.id).model_dump() == final.model_dump()
            assert [i.type for i in alice.responses.input_items.list(final.id)] == ["message"]
            with pytest.raises(openai.NotFoundError):
                bob.responses.retrieve(final.id)
            with pytest.raises(openai.NotFoundError):
                bob.responses.delete(final.id)
            alice.responses.delete(final.id)
            with pytest.raises(openai.NotFoundError):
                alice.responses.retrieve(final.id)
            with pytest.raises(openai.NotFoundError):
                alice.responses.create(model="gpt-test", input="?", previous_response_id=final.id)
