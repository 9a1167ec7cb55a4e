"""The document fetcher's redirects and pinning, against real servers on two loopback addresses.
The injected policy allows only 127.0.0.1 and refuses 127.0.0.2, which stands for every address
the guard refuses; the stub resolver answers for made-up names (no DNS). Whatever the fetcher
does wrong, it can only reach loopback."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator, Mapping, Sequence

import pytest

from switchboard.upstreams.fetch import FetchRefused, fetch_document
from switchboard.upstreams.urlguard import IPAddress, UrlGuard
from tests.support.file_server import FileServer, Hit, Reply

ALLOWED = ipaddress.ip_address("127.0.0.1")


def only_127_0_0_1(ip: IPAddress) -> bool:
    return ip == ALLOWED


class StubResolver:
    def __init__(self, answers: Mapping[str, Sequence[Sequence[str]]]) -> None:
        self.answers = {name: list(replies) for name, replies in answers.items()}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        """Each name's answers in turn (a rebinding DNS server), the last one repeated."""
        self.asked.append(host)
        replies = self.answers.get(host)
        if not replies:
            raise OSError(f"no such name {host}")
        return replies.pop(0) if len(replies) > 1 else replies[0]


@pytest.fixture
def refused_server() -> Iterator[FileServer]:
    """127.0.0.2: what a redirect must never reach."""
    with FileServer("127.0.0.2", {"/secret": Reply(b"secret")}) as server:
        yield server


@pytest.fixture
def allowed_server() -> Iterator[FileServer]:
    with FileServer("127.0.0.1") as server:
        yield server


def fetch(url: str, resolver: StubResolver | None = None, max_bytes: int = 1000) -> bytes:
    guard = UrlGuard(allowed=only_127_0_0_1, resolve=resolver or StubResolver({}))
    run = fetch_document(url, guard=guard, max_bytes=max_bytes, seconds=10)
    body, _ = asyncio.run(asyncio.wait_for(run, 20))
    return body


def test_a_redirect_to_a_refused_address_in_any_form_is_not_followed(
    allowed_server: FileServer, refused_server: FileServer
) -> None:
    port = refused_server.port
    targets = (
        f"http://127.0.0.2:{port}/secret",
        f"http://127\u30020\u30020\u30022:{port}/secret",  # sent as raw UTF-8 bytes
        f"http://\uff11\uff12\uff17.0.0.2:{port}/secret",
        f"http://2130706434:{port}/secret",
        f"http://0x7f.0.0.2:{port}/secret",
        f"http://127.2:{port}/secret",
        f"http://[::ffff:127.0.0.2]:{port}/secret",
        f"http://evil.test:{port}/secret",  # the stub resolves it to 127.0.0.2
        f"//127.0.0.2:{port}/secret",  # scheme-relative
    )
    resolver = StubResolver({"evil.test": [["127.0.0.2"]]})
    for i, target in enumerate(targets):
        allowed_server.routes[f"/go{i}"] = Reply(status=302, location=target)
        with pytest.raises(FetchRefused, match=r"^refused: .*not a public address"):
            fetch(f"{allowed_server.url}/go{i}", resolver)
    assert refused_server.hits == []
    assert [hit.path for hit in allowed_server.hits] == [f"/go{i}" for i in range(len(targets))]


def test_a_name_is_resolved_by_the_guard_and_the_connection_pinned_to_its_answer(
    allowed_server: FileServer,
) -> None:
    """docs.test exists only in the stub, which answers 127.0.0.1 and then 127.0.0.2 (DNS
    rebinding): the fetch resolves once and connects to the address it checked, naming
    the host in Host. (Had aiohttp resolved the name itself, it could not have found it.)"""
    port = allowed_server.port
    allowed_server.routes["/doc.pdf"] = Reply(b"%PDF-fetched")
    resolver = StubResolver({"docs.test": [["127.0.0.1"], ["127.0.0.2"]]})
    assert fetch(f"http://docs.test:{port}/doc.pdf", resolver) == b"%PDF-fetched"
    assert resolver.asked == ["docs.test"]
    assert allowed_server.hits == [Hit("/doc.pdf", f"docs.test:{port}")]


def test_every_redirect_hop_is_resolved_and_checked_again(allowed_server: FileServer) -> None:
    port = allowed_server.port
    allowed_server.routes["/doc.pdf"] = Reply(b"%PDF-fetched")
    allowed_server.routes["/hop"] = Reply(status=301, location="/doc.pdf")

    resolver = StubResolver({"docs.test": [["127.0.0.1"]]})
    assert fetch(f"http://docs.test:{port}/hop", resolver) == b"%PDF-fetched"
    assert resolver.asked == ["docs.test", "docs.test"]
    assert allowed_server.hits == [
        Hit("/hop", f"docs.test:{port}"),
        Hit("/doc.pdf", f"docs.test:{port}"),
    ]

    allowed_server.hits.clear()
    rebinding = StubResolver({"docs.test": [["127.0.0.1"], ["127.0.0.2"]]})
    with pytest.raises(FetchRefused, match=r"docs.test \(127.0.0.2\) is not a public address"):
        fetch(f"http://docs.test:{port}/hop", rebinding)
    assert allowed_server.hits == [Hit("/hop", f"docs.test:{port}")]


def test_redirects_are_bounded(allowed_server: FileServer) -> None:
    allowed_server.routes["/loop"] = Reply(status=307, location="/loop")
    with pytest.raises(FetchRefused, match="redirected more than 3 times"):
        fetch(allowed_server.url + "/loop")
    assert len(allowed_server.hits) == 4


def test_a_document_over_max_bytes_is_refused_not_truncated(allowed_server: FileServer) -> None:
    allowed_server.routes["/fits"] = Reply(b"x" * 1000, length=None, chunk=100)
    allowed_server.routes["/over"] = Reply(b"x" * 1001, length=None, chunk=100)
    allowed_server.routes["/announced"] = Reply(b"x" * 10, length=10**9, hold=5)
    assert fetch(allowed_server.url + "/fits") == b"x" * 1000
    for path in ("/over", "/announced"):
        with pytest.raises(FetchRefused, match=r"larger than 1000 bytes \(documents.max_bytes\)"):
            fetch(allowed_server.url + path)
