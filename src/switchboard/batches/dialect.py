"""What the batch machinery needs of a client API, one description per API (each surface that
has a batch API declares one: api/surface.py `Surface.batch_api`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from switchboard.errors import GatewayError
from switchboard.pipeline import Completed, Inbound
from switchboard.storage.batches import StoredResult
from switchboard.tenancy.auth import Principal

if TYPE_CHECKING:
    from switchboard.api.bounds import Bounds


@dataclass(frozen=True, slots=True)
class BatchApi:
    name: str  # stored with each batch: which API's shapes it answers in
    # The endpoint each of its requests stands for (`POST <path>`): the path of its access line.
    path: str
    # Judges one request's body as its endpoint would, within the bounds on one request
    # (raises InvalidRequest naming the field).
    check: Callable[[bytes, Bounds], None]
    # The request as the pipeline takes it, run as `principal`, at `discount` off.
    inbound: Callable[[bytes, Principal, float], Inbound]
    # The reply's body in the API's shape (a pass-through's as the upstream sent it).
    encode: Callable[[Completed, Inbound], bytes]
    # A failure's body: the API's error envelope.
    error_body: Callable[[GatewayError, str], bytes]
    # An API whose results are files (OpenAI): (part, file id, content) of each, made when the
    # batch ends. None: results are read from the requests (the Message Batches API).
    output_files: Callable[[list[StoredResult]], list[tuple[str, str, bytes]]] | None = None
