"""The batch APIs' wire formats, pure: the create body and the input file judged with the
field named, the batch objects' counts and states, and the results and output files' lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from switchboard.dialects.anthropic.batches import decode_create, message_batch, result_lines
from switchboard.dialects.openai_chat.batches import batch_object, decode_input, output_lines
from switchboard.errors import InvalidRequest

AT = datetime(2026, 12, 3, 10, 0, 0, 123456, tzinfo=UTC)
COUNTS = {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 1, "expired": 0}


def _create(*items: object) -> bytes:
    return orjson.dumps({"requests": list(items)})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (
            _create({"custom_id": "a", "params": {}}, {"custom_id": "a", "params": {}}),
            "requests.1.custom_id",
        ),
        (_create({"custom_id": "x" * 65, "params": {}}), "requests.0.custom_id"),
        (_create({"custom_id": "é", "params": {}}), "requests.0.custom_id"),
        (_create({"params": {}}), "requests.0.custom_id"),
        (_create(), "requests"),
        (_create(*({"custom_id": f"r{i}", "params": {}} for i in range(4))), "requests"),
        (b'{"requests": 3}', "requests"),
    ],
)
def test_a_bad_create_body_names_the_field(body: bytes, param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_create(body, max_requests=3)
    assert refused.value.param == param


def test_params_are_kept_as_sent() -> None:
    params = b'{"model":"m","max_tokens":5,"messages":[]}'
    body = b'{"requests":[{"custom_id":"a-1_B","params":' + params + b"}]}"
    assert decode_create(body, max_requests=3) == [("a-1_B", params)]


def test_counts_are_processing_until_the_batch_ends() -> None:
    common: dict[str, Any] = {
        "batch_id": "msgbatch_1",
        "counts": COUNTS,
        "total": 4,
        "created_at": AT,
        "expires_at": AT + timedelta(days=1),
        "cancel_initiated_at": None,
        "results_url": "/r",
    }
    running = message_batch(status="in_progress", ended_at=None, **common)
    assert running["request_counts"] == {
        "processing": 4,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert running["results_url"] is None
    assert running["created_at"] == "2026-12-03T10:00:00.123456Z"
    done = message_batch(status="ended", ended_at=AT, **common)
    assert done["request_counts"] == COUNTS
    assert done["results_url"] == "/r"


def test_result_lines_have_no_blank_line_and_embed_bodies() -> None:
    text = result_lines(
        [
            ("a", "succeeded", b'{"type":"message"}'),
            ("b", "errored", b'{"type":"error","error":{"type":"x","message":"m"}}'),
            ("c", "canceled", None),
        ]
    )
    lines = text.split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(x) for x in lines[:-1]]
    assert parsed[0] == {
        "custom_id": "a",
        "result": {"type": "succeeded", "message": {"type": "message"}},
    }
    assert parsed[1]["result"]["error"]["error"]["type"] == "x"
    assert parsed[2] == {"custom_id": "c", "result": {"type": "canceled"}}


def _line(custom_id: str, **extra: object) -> bytes:
    return orjson.dumps(
        {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {},
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (_line("a") + b"\n" + _line("a"), "line 2: custom_id 'a' is not unique"),
        (_line("a", url="/v1/embeddings"), "line 1: url must be /v1/chat/completions"),
        (_line("a", method="GET"), "line 1: method"),
        (b"not json", "line 1: The request body is not valid JSON"),
        (_line(""), "line 1: custom_id must be 1 to 64"),
        (b"\n\n", "holds no requests"),
        (b"\n".join(_line(f"r{i}") for i in range(4)), "at most 3 requests"),
    ],
)
def test_a_bad_input_file_names_the_line(content: bytes, phrase: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_input(content, max_requests=3)
    assert refused.value.param == "input_file_id"
    assert phrase in refused.value.message


@pytest.mark.parametrize(
    ("status", "files", "canceled_at", "counts", "name"),
    [
        ("in_progress", (None, None), None, COUNTS, "in_progress"),
        ("canceling", (None, None), AT, COUNTS, "cancelling"),
        ("ended", (None, None), None, COUNTS, "finalizing"),
        ("ended", ("file-o", None), None, COUNTS, "completed"),
        ("ended", ("file-o", "file-e"), AT, COUNTS, "cancelled"),
        ("ended", (None, "file-e"), None, {**COUNTS, "expired": 1}, "expired"),
    ],
)
def test_openai_batch_states(
    status: str,
    files: tuple[str | None, str | None],
    canceled_at: datetime | None,
    counts: dict[str, int],
    name: str,
) -> None:
    batch = batch_object(
        batch_id="batch_1",
        status=status,
        counts=counts,
        total=4,
        created_at=AT,
        expires_at=AT + timedelta(days=1),
        ended_at=AT if status == "ended" else None,
        cancel_initiated_at=canceled_at,
        input_file_id="file-i",
        output_file_id=files[0],
        error_file_id=files[1],
        metadata=None,
    )
    assert batch["status"] == name
    assert batch["request_counts"]["total"] == 4
    assert batch["request_counts"]["completed"] == counts["succeeded"]


def test_output_and_error_files_split_the_results() -> None:
    results = [
        ("a", "succeeded", 200, "req_1", b'{"object":"chat.completion"}'),
        ("b", "errored", 404, "req_2", b'{"error":{"message":"m"}}'),
        ("c", "expired", None, None, None),
    ]
    output = [json.loads(x) for x in output_lines(results, "output").splitlines()]
    assert [x["custom_id"] for x in output] == ["a"]
    assert output[0]["response"] == {
        "status_code": 200,
        "request_id": "req_1",
        "body": {"object": "chat.completion"},
    }
    errors = [json.loads(x) for x in output_lines(results, "error").splitlines()]
    assert [x["custom_id"] for x in errors] == ["b", "c"]
    assert errors[0]["response"]["status_code"] == 404
    assert errors[1]["response"] is None
    assert errors[1]["error"]["code"] == "batch_expired"
