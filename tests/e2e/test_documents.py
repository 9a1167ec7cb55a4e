"""URL documents: refused unless the operator enables fetching; then fetched under a guard that
refuses private and loopback addresses, with a size cap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.dialects.test_documents_and_schemas import make_pdf
from tests.e2e.conftest import CLIENT_KEY, MASTER_KEY
from tests.support.file_server import FileServer, Reply
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_completion

PDF = make_pdf("Fetched invoice total 42")


@pytest.fixture
def files() -> Iterator[FileServer]:
    routes = {
        "/invoice.pdf": Reply(PDF),
        "/trickled.pdf": Reply(PDF, length=None, chunk=200),
        "/big.pdf": Reply(b"x" * 5000),
        "/big-trickled.pdf": Reply(b"x" * 5000, length=None, chunk=1000),
        "/huge.pdf": Reply(b"x" * 1000, length=10**10, hold=5),
    }
    with FileServer(routes=routes) as server:
        yield server


def request(url: str) -> dict[str, Any]:
    doc = {"type": "document", "source": {"type": "url", "url": url}}
    return {
        "model": "textonly",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": [doc, {"type": "text", "text": "total?"}]}],
    }


def config(up: ScriptedUpstream, documents: dict[str, Any]) -> dict[str, Any]:
    return {
        "master_key": MASTER_KEY,
        "keys": [{"name": "ci", "key": CLIENT_KEY}],
        "documents": documents,
        "providers": [{"name": "up", "kind": "openai", "base_url": up.openai_base}],
        "models": [
            {
                "id": "textonly",
                "capabilities": {"pdf": False},
                "channels": [{"provider": "up", "model": "m"}],
            }
        ],
    }


def post(gw: GatewayProcess, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/messages", json=body, headers={"x-api-key": CLIENT_KEY}, timeout=20
    )


def test_url_documents_are_not_fetched_unless_enabled(
    upstream: ScriptedUpstream, files: FileServer
) -> None:
    with GatewayProcess(config(upstream, {})) as gw:
        resp = post(gw, request(files.url + "/invoice.pdf"))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("messages.0.content.0.source: URL documents")
    assert upstream.received == []


def test_the_guard_refuses_loopback_in_every_disguise_without_connecting(
    upstream: ScriptedUpstream, files: FileServer
) -> None:
    """Unicode dots and digits (IDNA-normalised by the HTTP client), the IPv4 number forms the
    C library reads, IPv4-mapped IPv6 and names: all are the file server on 127.0.0.1, and the
    guard decides on that address, before any connection (the server records none)."""
    port = files.port
    hosts = (
        "127.0.0.1",
        "127\u30020\u30020\u30021",  # ideographic full stops
        "127\uff0e0\uff0e0\uff0e1",  # full-width full stops
        "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # full-width digits
        "2130706433",
        "0x7f.0.0.1",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",
        "localhost",
        "LocalHost",
    )
    with GatewayProcess(config(upstream, {"fetch_urls": True})) as gw:
        for host in hosts:
            resp = post(gw, request(f"http://{host}:{port}/invoice.pdf"))
            assert resp.status_code == 400, (host, resp.text)
            body = resp.json()
            assert body["type"] == "error"
            assert body["error"]["type"] == "invalid_request_error"
            message = body["error"]["message"]
            assert message.startswith("messages.0.content.0.source.url: refused"), message
            assert files.hits == [], host
    assert upstream.received == []


def test_fetched_pdf_reaches_a_text_model_as_text(
    upstream: ScriptedUpstream, files: FileServer
) -> None:
    documents = {"fetch_urls": True, "allow_private_addresses": True, "max_bytes": 4096}
    with GatewayProcess(config(upstream, documents)) as gw:
        for path in ("/invoice.pdf", "/trickled.pdf"):  # with and without Content-Length
            upstream.enqueue(openai_completion("42"))
            resp = post(gw, request(files.url + path))
            assert resp.status_code == 200, resp.text
            sent = upstream.received[-1].json
            assert isinstance(sent, dict)
            assert "Fetched invoice total 42" in sent["messages"][0]["content"]
            assert "PDF sent as extracted text" in resp.headers["switchboard-dropped"]


def test_a_document_over_max_bytes_is_refused_not_truncated(
    upstream: ScriptedUpstream, files: FileServer
) -> None:
    documents = {"fetch_urls": True, "allow_private_addresses": True, "max_bytes": 4096}
    with GatewayProcess(config(upstream, documents)) as gw:
        for path in ("/big.pdf", "/big-trickled.pdf"):  # with and without Content-Length
            resp = post(gw, request(files.url + path))
            assert resp.status_code == 400, (path, resp.text)
            message = resp.json()["error"]["message"]
            assert message.startswith("messages.0.content.0.source.url: "), message
            assert "larger than 4096 bytes (documents.max_bytes)" in message, message

        # A Content-Length over the cap is refused at once, without waiting for the body.
        started = time.monotonic()
        resp = post(gw, request(files.url + "/huge.pdf"))
        assert resp.status_code == 400, resp.text
        assert "larger than 4096 bytes" in resp.json()["error"]["message"]
        assert time.monotonic() - started < 4
    assert upstream.received == []
