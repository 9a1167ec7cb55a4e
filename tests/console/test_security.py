"""The console's security properties over HTTP, as a browser or an attacker would meet them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.console.conftest import CLIENT_KEY, MASTER_KEY, ask, start_gateway
from tests.console.console_client import ConsoleClient, csrf_of
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

PAGES = [
    "/console",
    "/console?window=30d&by=key",
    "/console/keys",
    "/console/usage",
    "/console/requests",
    "/console/channels",
    "/console/models",
]


def admin(gateway: GatewayProcess) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers={"x-api-key": MASTER_KEY}, trust_env=False)


def test_root_redirects_to_the_console_and_the_console_to_sign_in(
    gateway: GatewayProcess,
) -> None:
    with httpx.Client(base_url=gateway.url, trust_env=False) as http:
        root = http.get("/")
        assert root.status_code == 303
        assert root.headers["location"] == "/console"
        for path in PAGES:
            page = http.get(path)
            assert page.status_code == 303, path
            assert page.headers["location"] == "/console/login"
        # Fragments and forms answer 401 without a session; nothing is shown or changed.
        assert http.get("/console/inflight").status_code == 401
        assert http.post("/console/keys", data={"name": "x"}).status_code == 401


def test_every_page_has_a_strict_csp_no_framing_and_no_inline_script(
    console: ConsoleClient,
) -> None:
    for path in [*PAGES, "/console/login", "/console/static/console.js", "/console/nope"]:
        page = console.http.get(path)
        assert page.status_code in (200, 404), (path, page.status_code)
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe" not in csp, csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        if page.headers["content-type"].startswith("text/html"):
            html = page.text
            # Every script is a file of ours or a JSON data block; no handler attributes or
            # inline styles that the CSP would refuse.
            for tag in re.findall(r"<script\b[^>]*>", html):
                assert 'src="/console/static/' in tag or 'type="application/json"' in tag, tag
            assert not re.search(r"\son[a-z]+=", html), path
            assert not re.search(r"\sstyle=", html), path
            assert "http://" not in html, path
            assert "https://" not in html, path
            assert page.headers["cache-control"] == "no-store"


def test_session_cookie_is_httponly_samesite_strict_with_an_expiry(
    gateway: GatewayProcess,
) -> None:
    client = ConsoleClient(gateway.url)
    try:
        answer = client.sign_in(MASTER_KEY)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console"
        cookies = answer.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("sb_session="))
        flags = [f.strip() for f in session.split(";")]
        assert "HttpOnly" in flags
        assert "SameSite=Strict" in flags
        assert "Path=/console" in flags
        assert "Max-Age=43200" in flags
        # The master key itself is never what the cookie holds.
        assert MASTER_KEY not in session
        assert client.http.get("/console").status_code == 200
    finally:
        client.close()


def test_a_tampered_or_foreign_session_cookie_is_refused(console: ConsoleClient) -> None:
    token = console.http.cookies["sb_session"]
    sid, expires, mac = token.split(".")
    forged = [
        f"{sid}.{int(expires) + 3600}.{mac}",  # a longer life
        f"{'0' * 32}.{expires}.{mac}",  # another session id
        f"{sid}.{expires}.{'0' * 64}",
        "garbage",
    ]
    for value in forged:
        with httpx.Client(base_url=str(console.http.base_url), trust_env=False) as other:
            other.cookies.set("sb_session", value)
            answer = other.get("/console/keys")
            assert answer.status_code == 303, value
            assert answer.headers["location"] == "/console/login"


def test_state_changing_forms_without_the_csrf_token_are_refused(
    console: ConsoleClient, gateway: GatewayProcess
) -> None:
    with admin(gateway) as api:
        before = len(api.get("/admin/keys").json()["data"])
        for token in ("", "0" * 32, None):
            fields = {"name": "csrf-victim"}
            if token is None:
                answer = console.http.post("/console/keys", data=fields)
            else:
                answer = console.post("/console/keys", fields, csrf=token)
            assert answer.status_code == 403
            assert "CSRF" in answer.text
        # Another session's token does not do either.
        other = ConsoleClient(gateway.url)
        try:
            other.sign_in(MASTER_KEY)
            stolen = other.csrf()
        finally:
            other.close()
        assert (
            console.post("/console/keys", {"name": "csrf-victim"}, csrf=stolen).status_code == 403
        )
        assert len(api.get("/admin/keys").json()["data"]) == before
        # The same form with the session's token works.
        assert console.post("/console/keys", {"name": "csrf-ok"}).status_code == 201
        assert len(api.get("/admin/keys").json()["data"]) == before + 1


def test_sign_in_form_needs_its_own_token(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url, trust_env=False) as http:
        answer = http.post("/console/login", data={"key": MASTER_KEY, "csrf": "x" * 32})
        assert answer.status_code == 403
        assert "sb_session=" not in "".join(answer.headers.get_list("set-cookie"))


def test_client_keys_cannot_sign_in(gateway: GatewayProcess) -> None:
    with admin(gateway) as api:
        stored = api.post("/admin/keys", json={"name": "db-client"}).json()["key"]
    for key in (CLIENT_KEY, stored, "sk-not-a-key-at-all"):
        client = ConsoleClient(gateway.url)
        try:
            answer = client.sign_in(key)
            assert answer.status_code == 401, key
            assert "sb_session=" not in "".join(answer.headers.get_list("set-cookie"))
            expected = "client key" if key != "sk-not-a-key-at-all" else "not the master key"
            assert expected in answer.text
            assert client.http.get("/console/keys").status_code == 303
        finally:
            client.close()


def test_failed_sign_ins_are_rate_limited(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path)
    client = ConsoleClient(gw.url)
    try:
        for _ in range(5):
            assert client.sign_in("sk-wrong-guess").status_code == 401
        limited = client.sign_in(MASTER_KEY)  # even the right key waits now
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 300
        assert "Too many failed sign-ins" in limited.text
        assert "sb_session=" not in "".join(limited.headers.get_list("set-cookie"))
    finally:
        client.close()
        gw.stop()


def test_a_secret_is_shown_once_and_never_again(
    console: ConsoleClient, gateway: GatewayProcess
) -> None:
    created = console.post("/console/keys", {"name": "shown-once", "rpm": "60"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="secret">(sk-sb-[^<]+)</code>', created.text)
    assert secret is not None
    ask(gateway, secret.group(1))  # it works, and now it is in the ledger too
    key_id = re.search(r"<code>(key_[0-9a-f]+)</code>", created.text)
    assert key_id is not None
    rotated = console.post(f"/console/keys/{key_id.group(1)}/rotate", {})
    new_secret = re.search(r'<code id="secret">(sk-sb-[^<]+)</code>', rotated.text)
    assert new_secret is not None
    assert new_secret.group(1) != secret.group(1)
    pages = [*PAGES, f"/console/keys/{key_id.group(1)}", "/console/usage.csv", "/console/inflight"]
    pages += ["/console/requests/rows", "/console/usage?group_by=key"]
    for path in pages:
        page = console.http.get(path)
        assert page.status_code == 200, path
        for value in (secret.group(1), new_secret.group(1), MASTER_KEY, CLIENT_KEY):
            assert value not in page.text, (path, value)
            # Not even its random part, in any encoding the page might use.
            assert value.removeprefix("sk-sb-")[6:] not in page.text, path


def test_sign_out_ends_the_session(gateway: GatewayProcess) -> None:
    client = ConsoleClient(gateway.url)
    try:
        client.sign_in(MASTER_KEY)
        token = client.http.cookies["sb_session"]
        out = client.post("/console/logout", {})
        assert out.status_code == 303
        assert out.headers["location"] == "/console/login"
        assert any(
            c.startswith("sb_session=;") and "Max-Age=0" in c
            for c in out.headers.get_list("set-cookie")
        )
        # The old cookie, replayed, no longer opens anything.
        with httpx.Client(base_url=gateway.url, trust_env=False) as replay:
            replay.cookies.set("sb_session", token)
            assert replay.get("/console/keys").status_code == 303
    finally:
        client.close()


def test_the_console_api_takes_only_the_master_key(gateway: GatewayProcess) -> None:
    paths = ["/admin/overview", "/admin/inflight", "/admin/requests", "/admin/models"]
    with httpx.Client(base_url=gateway.url, trust_env=False) as http:
        for path in paths:
            assert http.get(path).status_code == 401
            assert http.get(path, headers={"x-api-key": CLIENT_KEY}).status_code == 403
            assert http.get(path, headers={"x-api-key": MASTER_KEY}).status_code == 200
        reset = http.post(
            "/admin/channels/reset",
            json={"channel": "dead/gone", "key": 0},
            headers={"x-api-key": CLIENT_KEY},
        )
        assert reset.status_code == 403
    # A console session is not an admin API credential either.
    client = ConsoleClient(gateway.url)
    try:
        client.sign_in(MASTER_KEY)
        assert client.http.get("/admin/keys").status_code == 401
    finally:
        client.close()


def test_the_login_page_form_field_is_named_key(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url, trust_env=False) as http:
        page = http.get("/console/login")
        assert re.search(r'<input[^>]*name="key"[^>]*type="password"', page.text)
        assert csrf_of(page.text)
