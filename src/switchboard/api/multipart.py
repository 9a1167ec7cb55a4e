"""A `multipart/form-data` body -> its fields (the OpenAI Files API's upload). The standard
library's MIME parser reads it: an upload is rare and bounded in size before it gets here."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass

from switchboard.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: bytes
    filename: str | None


def form_fields(content_type: str, body: bytes) -> dict[str, Field]:
    """The form's fields by name (the last of a repeated name). A body that is not
    multipart/form-data with a boundary is a 400."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in (
        content_type.lower()
    ):
        raise InvalidRequest("Content-Type: expected multipart/form-data with a boundary")
    # The header line is the client's: only a value without line breaks goes into it.
    if "\r" in content_type or "\n" in content_type:
        raise InvalidRequest("Content-Type: must be one line")
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidRequest("the multipart/form-data body holds no fields")
    fields: dict[str, Field] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        value = payload if isinstance(payload, bytes) else b""
        fields[name] = Field(name, value, part.get_filename())
    return fields
