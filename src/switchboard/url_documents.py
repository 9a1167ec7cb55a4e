"""Document blocks given by URL, fetched (under the URL guard) for upstreams that cannot fetch
them: the request comes back with each such document's text or PDF data in place of its URL."""

from __future__ import annotations

import base64
from typing import TypeGuard

import msgspec

from switchboard import ir
from switchboard.config import Documents
from switchboard.errors import InvalidRequest


def _unfetched(block: ir.Block) -> TypeGuard[ir.Document]:
    return isinstance(block, ir.Document) and bool(block.url) and block.data is None


async def with_fetched_documents(request: ir.Request, cfg: Documents) -> ir.Request:
    """`request` with its URL documents fetched; the same object when it has none."""
    if not any(_unfetched(b) for m in request.messages for b in m.content):
        return request
    messages = list(request.messages)
    for i, message in enumerate(messages):
        blocks = list(message.content)
        for j, block in enumerate(blocks):
            if _unfetched(block):
                blocks[j] = await _fetch(block, f"messages.{i}.content.{j}", cfg)
        messages[i] = ir.Message(message.role, tuple(blocks))
    return msgspec.structs.replace(request, messages=tuple(messages))


async def _fetch(doc: ir.Document, where: str, cfg: Documents) -> ir.Document:
    if not cfg.fetch_urls:
        raise InvalidRequest(
            f"{where}.source: URL documents are not fetched by this gateway "
            "(the operator can enable documents.fetch_urls)",
            param=f"{where}.source",
        )
    assert doc.url is not None
    # Imported on first use: aiohttp (11 MiB) serves only these fetches.
    from switchboard.upstreams.fetch import FetchRefused, fetch_document
    from switchboard.upstreams.urlguard import UrlGuard

    try:
        body, content_type = await fetch_document(
            doc.url,
            guard=UrlGuard.for_documents(cfg.allow_private_addresses),
            max_bytes=cfg.max_bytes,
            seconds=cfg.timeout,
        )
    except FetchRefused as exc:
        raise InvalidRequest(f"{where}.source.url: {exc}", param=f"{where}.source.url") from None
    media = content_type.split(";")[0].strip().lower()
    if media.startswith("text/"):
        return msgspec.structs.replace(doc, url=None, text=body.decode("utf-8", "replace"))
    data = base64.b64encode(body).decode()
    return msgspec.structs.replace(doc, url=None, data=data, media_type="application/pdf")
