"""Documents become text or file parts per model; tool schemas are cleaned for strict upstreams."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from switchboard.dialects.anthropic.request import decode_request
from switchboard.dialects.openai_chat.schema import clean_schema
from switchboard.dialects.openai_chat.upstream_request import (
    Encoded,
    UpstreamProfile,
    encode_request,
)
from switchboard.errors import InvalidRequest


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF with `text` on it, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def encode(profile: UpstreamProfile, content: Any = None, **fields: Any) -> Encoded:
    body: dict[str, Any] = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": content or "hi"}],
    }
    body.update(fields)
    return encode_request(decode_request(orjson.dumps(body)), profile)


PDF: dict[str, Any] = {
    "type": "document",
    "title": "Report",
    "source": {
        "type": "base64",
        "media_type": "application/pdf",
        "data": base64.b64encode(make_pdf("Quarterly revenue grew")).decode(),
    },
}


def test_pdf_goes_as_a_file_part_where_the_model_takes_pdfs() -> None:
    profile = UpstreamProfile(model_id="m", upstream_model="u", pdf=True)
    parts = encode(profile, [PDF, {"type": "text", "text": "summarise"}]).body["messages"][0][
        "content"
    ]
    assert parts[0]["type"] == "file"
    assert parts[0]["file"]["file_data"].startswith("data:application/pdf;base64,JVBERi0")
    assert parts[0]["file"]["filename"] == "Report.pdf"


def test_pdf_becomes_extracted_text_otherwise_and_says_so() -> None:
    profile = UpstreamProfile(model_id="cat/text", upstream_model="u", pdf=False)
    enc = encode(profile, [PDF, {"type": "text", "text": "summarise"}])
    content = enc.body["messages"][0]["content"]
    assert "Quarterly revenue grew" in content
    assert content.startswith("Report\n[page 1]")
    assert any("PDF sent as extracted text" in d for d in enc.dropped)


def test_unreadable_pdf_is_a_named_400() -> None:
    bad = {**PDF, "source": {**PDF["source"], "data": base64.b64encode(b"not a pdf").decode()}}
    with pytest.raises(InvalidRequest, match=r"messages\.0\.content\.0: the PDF could not be read"):
        encode(UpstreamProfile(model_id="m", upstream_model="u"), [bad])


def test_text_documents_carry_title_and_context() -> None:
    doc = {
        "type": "document",
        "title": "Notes",
        "context": "From the wiki",
        "source": {"type": "text", "media_type": "text/plain", "data": "Line one"},
    }
    content = encode(UpstreamProfile(model_id="m", upstream_model="u"), [doc]).body["messages"][0][
        "content"
    ]
    assert content == "Notes\nFrom the wiki\nLine one"


def test_strict_schema_cleaning() -> None:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "tags": {"type": "array", "prefixItems": [{"type": "string"}], "items": {}},
            "count": {"type": "integer", "exclusiveMinimum": 0},
            "meta": {"type": "object", "propertyNames": {"pattern": "^x"}},
            "if": {"description": "a property named like a keyword stays"},
        },
        "required": ["count"],
    }
    cleaned, dropped = clean_schema(schema)
    assert "$schema" not in cleaned
    assert cleaned["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert cleaned["properties"]["count"] == {"type": "integer"}
    assert "if" in cleaned["properties"]
    assert cleaned["required"] == ["count"]
    assert {"$schema", "prefixItems", "exclusiveMinimum", "propertyNames"} <= dropped
    assert schema["properties"]["count"]["exclusiveMinimum"] == 0  # the input is untouched

    root, dropped = clean_schema({"oneOf": [{"type": "object"}, {"type": "string"}]})
    assert root == {"type": "object", "properties": {}}
    assert "top-level oneOf" in dropped


def test_schemas_are_only_cleaned_for_strict_upstreams_and_reported() -> None:
    tools = [{"name": "t", "input_schema": {"type": "object", "$schema": "x", "properties": {}}}]
    lenient = encode(UpstreamProfile(model_id="m", upstream_model="u"), tools=tools)
    assert lenient.body["tools"][0]["function"]["parameters"]["$schema"] == "x"
    strict = encode(
        UpstreamProfile(model_id="m", upstream_model="u", strict_schemas=True), tools=tools
    )
    assert "$schema" not in strict.body["tools"][0]["function"]["parameters"]
    assert "tools.t.input_schema: $schema" in strict.dropped
