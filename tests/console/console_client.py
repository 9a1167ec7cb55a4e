"""A signed-in console session over plain HTTP (httpx), as a browser would hold it: the cookies,
and the CSRF token read from the page the form is on."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF field in the page"
    return found.group(1)


class ConsoleClient:
    def __init__(self, base_url: str) -> None:
        # Never through a proxy: the gateway is on loopback.
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def sign_in(self, key: str) -> httpx.Response:
        """The login form's answer (a 303 to /console when the key is the master key)."""
        form = self.http.get("/console/login")
        assert form.status_code == 200
        return self.http.post("/console/login", data={"csrf": csrf_of(form.text), "key": key})

    def csrf(self, path: str = "/console/keys") -> str:
        page = self.http.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    def post(self, path: str, fields: dict[str, Any], *, csrf: str | None = None) -> httpx.Response:
        token = self.csrf() if csrf is None else csrf
        return self.http.post(path, data={"csrf": token, **fields})
