"""URL documents: refused unless the operator enables fetching; then fetched under a guard that
refuses private and loopback addresses, with a size cap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.dialects.test_documents_and_schemas import make_pdf
from tests.e2e.conftest import CLIENT_KEY, MASTER_KEY
from tests.support.gateway import GatewayProcess
from tests.support.mock_upstream import ScriptedUpstream
from tests.support.openai_wire import openai_completion

PDF = make_pdf("Fetched invoice total 42")


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PDF if self.path == "/invoice.pdf" else b"x" * 5000
        self.send_response(200)
        self.send_header("content-type", "application/pdf")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
    upstream: ScriptedUpstream, files: str
) -> None:
    with GatewayProcess(config(upstream, {})) as gw:
        resp = post(gw, request(files + "/invoice.pdf"))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("messages.0.content.0.source: URL documents")
    assert upstream.received == []


def test_the_guard_refuses_loopback_and_private_addresses(
    upstream: ScriptedUpstream, files: str
) -> None:
    with GatewayProcess(config(upstream, {"fetch_urls": True})) as gw:
        for url in (
            files + "/invoice.pdf",
            "http://10.0.0.1/x.pdf",
            "http://169.254.169.254/latest",
        ):
            resp = post(gw, request(url))
            assert resp.status_code == 400, url
            message = resp.json()["error"]["message"]
            assert message.startswith("messages.0.content.0.source.url: refused"), message
    assert upstream.received == []


def test_fetched_pdf_reaches_a_text_model_as_text_and_the_cap_holds(
    upstream: ScriptedUpstream, files: str
) -> None:
    documents = {"fetch_urls": True, "allow_private_addresses": True, "max_bytes": 4096}
    with GatewayProcess(config(upstream, documents)) as gw:
        upstream.enqueue(openai_completion("42"))
        resp = post(gw, request(files + "/invoice.pdf"))
        assert resp.status_code == 200, resp.text
        sent = upstream.received[0].json
        assert isinstance(sent, dict)
        assert "Fetched invoice total 42" in sent["messages"][0]["content"]
        assert "PDF sent as extracted text" in resp.headers["switchboard-dropped"]

        big = post(gw, request(files + "/big.pdf"))
        assert big.status_code == 400
        assert "larger than 4096 bytes" in big.json()["error"]["message"]
