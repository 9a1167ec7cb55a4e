"""A stored response's input items as `GET /v1/responses/{id}/input_items` lists them, pure:
each item's listed shape, the order and pages (ids stable from read to read), the query checked
with the parameter named."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.dialects.openai_responses.input_items import (
    Page,
    input_items_list,
    listed,
    page_of,
)
from switchboard.errors import InvalidRequest

RID = "resp_abc"


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        (
            {"type": "message", "role": "user", "content": "hi"},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
                "id": "msg_abc_3",
                "status": "completed",
            },
        ),
        (
            {"type": "message", "role": "assistant", "content": "yo", "id": "msg_x"},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "yo", "annotations": []}],
                "id": "msg_x",
                "status": "completed",
            },
        ),
        (
            {"type": "function_call_output", "call_id": "c1", "output": "24C"},
            {"type": "function_call_output", "call_id": "c1", "output": "24C", "id": "fco_abc_3"},
        ),
        (
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}", "id": ""},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "f",
                "arguments": "{}",
                "id": "fc_abc_3",
            },
        ),
        (
            {"type": "reasoning", "summary": []},
            {"type": "reasoning", "summary": [], "id": "rs_abc_3"},
        ),
        ({"type": "other"}, {"type": "other", "id": "item_abc_3"}),
    ],
)
def test_listed(item: dict[str, Any], shown: dict[str, Any]) -> None:
    before = dict(item)
    assert listed(item, RID, 3) == shown
    assert item == before  # the stored item is not changed


ITEMS: list[Any] = [{"type": "message", "role": "user", "content": str(i)} for i in range(5)]


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def test_pages() -> None:
    first = input_items_list(RID, ITEMS, Page(limit=2))
    assert first["object"] == "list"
    assert ids(first) == ["msg_abc_4", "msg_abc_3"]  # newest first by default
    assert (first["first_id"], first["last_id"], first["has_more"]) == (
        "msg_abc_4",
        "msg_abc_3",
        True,
    )
    second = input_items_list(RID, ITEMS, Page(limit=2, after="msg_abc_3"))
    assert ids(second) == ["msg_abc_2", "msg_abc_1"]
    last = input_items_list(RID, ITEMS, Page(limit=2, after="msg_abc_1"))
    assert ids(last) == ["msg_abc_0"]
    assert last["has_more"] is False
    asc = input_items_list(RID, ITEMS, Page(limit=20, order="asc"))
    assert ids(asc) == [f"msg_abc_{i}" for i in range(5)]
    assert asc["has_more"] is False
    empty = input_items_list(RID, [], Page())
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_after_an_unknown_id() -> None:
    with pytest.raises(InvalidRequest) as caught:
        input_items_list(RID, ITEMS, Page(after="msg_nope"))
    assert caught.value.param == "after"


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("", Page()),
        ("limit=100&order=asc&after=msg_1", Page(100, "asc", "msg_1")),
        ("include[]=message.input_image.image_url&limit=1", Page(limit=1)),
    ],
)
def test_page_of(query: str, page: Page) -> None:
    assert page_of(query) == page


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=x", "limit"),
        ("order=up", "order"),
    ],
)
def test_page_of_refuses(query: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        page_of(query)
    assert caught.value.param == param
    assert param in caught.value.message
