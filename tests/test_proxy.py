"""Which proxy an upstream URL goes through, read from the environment as curl reads it. Pure
decisions: nothing here opens a connection."""

from __future__ import annotations

import pytest

from switchboard.upstreams.connection import Origin
from switchboard.upstreams.proxy import Proxies, Proxy

PROXY = "http://proxy.internal:3128"


def route(env: dict[str, str], url: str) -> Proxy | None:
    return Origin.parse(url, Proxies.from_env(env)).proxy


def test_each_scheme_has_its_variable_and_lower_case_wins() -> None:
    env = {"HTTPS_PROXY": PROXY, "http_proxy": "http://other:8080", "HTTP_PROXY": "http://x:1"}
    https = route(env, "https://api.openai.com/v1")
    assert https is not None
    assert (https.host, https.port) == ("proxy.internal", 3128)
    http = route(env, "http://vllm.lan:8000/v1")
    assert http is not None
    assert (http.host, http.port) == ("other", 8080)
    assert route({}, "https://api.openai.com/v1") is None
    assert route({"HTTPS_PROXY": "  "}, "https://api.openai.com/v1") is None


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("*", "https://api.openai.com/v1", True),
        ("openai.com", "https://api.openai.com/v1", True),
        (".openai.com", "https://api.openai.com/v1", True),
        ("*.openai.com", "https://api.openai.com/v1", True),
        ("api.openai.com", "https://api.openai.com/v1", True),
        ("API.OpenAI.com", "https://api.openai.com/v1", True),
        ("penai.com", "https://api.openai.com/v1", False),
        ("openai.com:443", "https://api.openai.com/v1", True),
        ("openai.com:8443", "https://api.openai.com/v1", False),
        ("localhost, 127.0.0.1", "http://localhost:8000/v1", True),
        ("localhost,127.0.0.1", "http://127.0.0.1:8000/v1", True),
        ("10.0.0.0/8", "http://10.20.30.40/v1", True),
        ("10.0.0.0/8", "http://11.0.0.1/v1", False),
        ("10.0.0.0/8", "http://ten.example/v1", False),
        ("::1", "http://[::1]:8000/v1", True),
        ("[::1]:8000", "http://[::1]:8000/v1", True),
        ("fd00::/8", "http://[fd12::5]/v1", True),
        ("", "http://127.0.0.1:8000/v1", False),  # no implicit exceptions: curl's rule
    ],
)
def test_no_proxy(no_proxy: str, url: str, direct: bool) -> None:
    env = {"HTTPS_PROXY": PROXY, "HTTP_PROXY": PROXY, "NO_PROXY": no_proxy}
    assert (route(env, url) is None) is direct


def test_an_http_upstream_through_a_proxy_is_asked_in_absolute_form_with_credentials() -> None:
    env = {"HTTP_PROXY": "http://me:s%3Acret@proxy.internal"}
    origin = Origin.parse("http://vllm.lan:8000/v1/chat/completions?a=1", Proxies.from_env(env))
    assert origin.path == b"http://vllm.lan:8000/v1/chat/completions?a=1"
    assert origin.extra == b"\r\nproxy-authorization: Basic bWU6czpjcmV0"  # me:s:cret
    assert origin.proxy is not None
    assert origin.proxy.port == 80
    assert "cret" not in repr(origin.proxy)
    # Through a CONNECT tunnel the request is the upstream's own: no absolute form, no
    # credentials for the proxy in it.
    tunnelled = Origin.parse("https://api.openai.com/v1", Proxies.from_env({"HTTPS_PROXY": PROXY}))
    assert (tunnelled.path, tunnelled.extra, tunnelled.authority) == (
        b"/v1",
        b"",
        b"api.openai.com:443",
    )
    assert Origin.parse("https://[::1]:8443/v1").authority == b"[::1]:8443"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://127.0.0.1:1080", "only http:// proxies are supported, not socks5"),
        ("https://proxy.internal", "only http:// proxies are supported, not https"),
        ("http://proxy.internal:port", "the port is not a number"),
        ("http://:3128", "the URL names no host"),
    ],
)
def test_a_proxy_the_client_cannot_use_is_refused_by_name(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=f"^https_proxy: {problem}"):
        Proxies.from_env({"https_proxy": value})
