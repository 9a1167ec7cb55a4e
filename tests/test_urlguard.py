"""The URL guard's decisions, as tables: which addresses are public, which host forms are which
address, and what a name resolves to (a stub resolver: no DNS, and nothing is connected to)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping, Sequence

import pytest

from switchboard.upstreams.urlguard import (
    Pinned,
    Refused,
    UrlGuard,
    ip_literal,
    is_connectable,
    is_public,
)

NOT_PUBLIC = (
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (CGNAT): is_private misses it
    "100.127.255.254",
    "169.254.169.254",  # cloud metadata
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "192.0.0.1",
    "192.0.0.8",
    "192.0.0.9",  # is_global says yes; the whole /24 is IETF protocol assignments
    "192.0.2.1",
    "198.18.0.1",
    "198.19.255.254",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",  # multicast: is_global says yes
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",  # multicast: is_global says yes
    "ff0e::1",
    "2001:db8::1",
    "3fff::1",  # documentation (RFC 9637), unknown to older Pythons
    "100::1",
    "2001::1",  # Teredo
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::10.0.0.1",  # IPv4-compatible (deprecated)
    "64:ff9b::10.0.0.1",  # NAT64 with an embedded private address: is_global says yes
    "64:ff9b::127.0.0.1",
    "64:ff9b:1::1",  # local-use NAT64
    "2002:a00:1::1",  # 6to4 of 10.0.0.1: is_global says yes on older Pythons
    "2002:7f00:1::1",
)

PUBLIC = (
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below 100.64/10
    "100.128.0.0",  # just above
    "172.32.0.1",  # just above 172.16/12
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",  # NAT64 of a public address (DNS64 networks)
    "2002:808:808::1",  # 6to4 of 8.8.8.8
)


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_not_public(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public(text: str) -> None:
    assert is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    ("text", "connectable"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("169.254.169.254", True),
        ("8.8.8.8", True),
        ("0.0.0.0", False),
        ("::", False),
        ("224.0.0.1", False),
        ("ff02::1", False),
    ],
)
def test_allow_private_allows_loopback_and_private_but_not_multicast(
    text: str, connectable: bool
) -> None:
    assert is_connectable(ipaddress.ip_address(text)) is connectable


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7F.0x0.0.0x1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("::1", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        ("fe80::1%25eth0", "fe80::1%eth0"),
    ],
)
def test_every_literal_form_is_read_as_its_address(host: str, address: str) -> None:
    assert ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "localhost", "a1.b2", "x.0a", "xn--bcher-kva.ch"])
def test_names_are_not_literals(host: str) -> None:
    assert ip_literal(host) is None


@pytest.mark.parametrize(
    "host",
    ["256.0.0.1", "1.2.3.4.5", "1.2.3.08", "08", "1..1", "foo.1", "1.16777216", "0xg.1", "::g"],
)
def test_a_malformed_address_is_refused_not_resolved(host: str) -> None:
    with pytest.raises(Refused, match="is not a valid IPv"):
        ip_literal(host)


class StubResolver:
    """Answers from a table and records the names it was asked: the guard's only resolver."""

    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no such name {host}")
        return self.answers[host]


def check(guard: UrlGuard, url: str) -> Pinned:
    return asyncio.run(guard.check(url))


DISGUISED_LOOPBACK = (
    "http://127\u30020\u30020\u30021/x",  # ideographic full stops
    "http://127\uff0e0\uff0e0\uff0e1/x",  # full-width full stops
    "http://127\uff610\uff610\uff611/x",  # halfwidth ideographic full stops
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/x",  # full-width digits
    "http://2130706433/x",
    "http://0x7f.0.0.1/x",
    "http://0x7f.1/x",
    "http://0177.0.0.1/x",
    "http://127.1/x",
    "http://127.0.0.1./x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::1]:8080/x",
    "http://[0:0:0:0:0:0:0:1]/x",
    "http://[64:ff9b::7f00:1]/x",
    "https://127.0.0.1:443/x",
    "http://user:pw@127.0.0.1/x",
    "HTTP://127.0.0.1/x",
)


@pytest.mark.parametrize("url", DISGUISED_LOOPBACK)
def test_loopback_in_disguise_is_refused_without_a_lookup(url: str) -> None:
    resolver = StubResolver({})
    with pytest.raises(Refused, match="not a public address"):
        check(UrlGuard(resolve=resolver), url)
    assert resolver.asked == []


def test_names_are_normalised_then_resolved_by_the_guard_and_every_address_checked() -> None:
    resolver = StubResolver(
        {
            "docs.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
            "intranet.example.com": ["10.0.0.7"],
            "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
            "xn--bcher-kva.example": ["93.184.216.34"],
            "localhost": ["127.0.0.1", "::1"],
        }
    )
    guard = UrlGuard(resolve=resolver)

    pinned = check(guard, "https://docs.example.com/report.pdf")
    assert pinned.addresses == (
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("2606:2800:220:1::1"),
    )
    # Full-width letters and an upper-case scheme: the name the HTTP client would use.
    assert check(guard, "HTTPS://\uff44ocs.example.com/x").url.raw_host == "docs.example.com"
    assert check(guard, "http://b\u00fccher.example/x").url.raw_host == "xn--bcher-kva.example"

    for url, shown in (
        ("http://intranet.example.com/x", "intranet.example.com (10.0.0.7)"),
        ("http://mixed.example.com/x", "mixed.example.com (127.0.0.1)"),  # one is enough
        ("http://LOCALHOST/x", "localhost (127.0.0.1)"),
    ):
        with pytest.raises(Refused) as refused:
            check(guard, url)
        assert str(refused.value) == f"{shown} is not a public address"

    with pytest.raises(Refused, match=r"nowhere\.example could not be resolved"):
        check(guard, "http://nowhere.example/x")
    assert resolver.asked == [
        "docs.example.com",
        "docs.example.com",
        "xn--bcher-kva.example",
        "intranet.example.com",
        "mixed.example.com",
        "localhost",
        "nowhere.example",
    ]


def test_the_pinned_target_names_the_original_host_and_connects_to_the_address() -> None:
    guard = UrlGuard(resolve=StubResolver({"docs.example.com": ["93.184.216.34"]}))
    pinned = check(guard, "https://docs.example.com:8443/a/b.pdf?v=1")
    address = pinned.addresses[0]
    assert str(pinned.url_for(address)) == "https://93.184.216.34:8443/a/b.pdf?v=1"
    assert pinned.host_header == "docs.example.com:8443"
    assert pinned.tls_name == "docs.example.com"

    literal = check(guard, "http://[2606:4700::1111]/x")
    assert str(literal.url_for(literal.addresses[0])) == "http://[2606:4700::1111]/x"
    assert literal.host_header == "[2606:4700::1111]"
    assert literal.tls_name is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://example.com/x",
        "data:text/plain,hi",
        "/relative/path",
        "http:///x",
        "http://-bad-.example/x",
        "http://bad_%00.example/x",
        "http://a b.example/x",
    ],
)
def test_only_http_urls_with_a_valid_host_pass(url: str) -> None:
    with pytest.raises(Refused):
        check(UrlGuard(resolve=StubResolver({})), url)


def test_allow_private_lets_loopback_through() -> None:
    pinned = check(UrlGuard.for_documents(allow_private=True), "http://127\u30020\u30020\u30021/x")
    assert pinned.addresses == (ipaddress.ip_address("127.0.0.1"),)
    with pytest.raises(Refused):
        check(UrlGuard.for_documents(allow_private=False), "http://127.0.0.1/x")
