"""A stored response's input items -> the list `GET /v1/responses/{id}/input_items` answers with
(what the SDK's `input_items.list` pages through). Pure.

Items are stored as the client wrote them (request.py); listed, each has the shape OpenAI lists
them in: an `id` (the item's own, else one made from the response's id and the item's place, so
the same at every read: the SDK pages by it), a message's string content as one text part, and
a `status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from switchboard.errors import InvalidRequest

Json = dict[str, Any]
Order = Literal["asc", "desc"]

MAX_LIMIT = 100
# An id made for an item without one: by its type, as OpenAI's are.
_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}
_ORDERS: dict[str, Order] = {"asc": "asc", "desc": "desc"}


@dataclass(frozen=True, slots=True)
class Page:
    """What the query asks for. `include` is accepted and has nothing to add: the items are
    listed with all that was stored of them."""

    limit: int = 20
    order: Order = "desc"  # OpenAI's default: the newest item first
    after: str | None = None


def page_of(query: str) -> Page:
    """The query string -> a Page; a bad value is a 400 naming its parameter."""
    q = parse_qs(query)
    raw_limit = q.get("limit", ["20"])[-1]
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidRequest(f"limit: must be an integer from 1 to {MAX_LIMIT}", param="limit")
    order = _ORDERS.get(q.get("order", ["desc"])[-1])
    if order is None:
        raise InvalidRequest("order: must be 'asc' or 'desc'", param="order")
    return Page(int(raw_limit), order, q.get("after", [None])[-1])


def listed(item: Json, response_id: str, index: int) -> Json:
    """One stored item as the list shows it."""
    kind = item.get("type", "message")
    out = dict(item)
    if not isinstance(out.get("id"), str) or not out["id"]:
        made = response_id.removeprefix("resp_")
        out["id"] = f"{_PREFIX.get(kind, 'item')}_{made}_{index}"
    if kind == "message":
        content = out.get("content")
        if isinstance(content, str):
            assistant = out.get("role") == "assistant"
            part: Json = {"type": "output_text" if assistant else "input_text", "text": content}
            if assistant:
                part["annotations"] = []
            out["content"] = [part]
        out.setdefault("status", "completed")
    return out


def input_items_list(response_id: str, items: list[Json], page: Page) -> Json:
    """The list object of one page of a response's input items."""
    data = [listed(item, response_id, i) for i, item in enumerate(items)]
    if page.order == "desc":
        data.reverse()
    start = 0
    if page.after is not None:
        ids = [item["id"] for item in data]
        if page.after not in ids:
            raise InvalidRequest("after: no input item of this response has that id", param="after")
        start = ids.index(page.after) + 1
    shown = data[start : start + page.limit]
    return {
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": start + page.limit < len(data),
    }
