"""Headless Chromium from the system (Debian's `chromium`), driven by Playwright. Playwright's own
browser download is not used. Every request a page makes is recorded and any to another host is
aborted; console errors and warnings and page errors are collected, so a test can assert there
were none."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route

CHROMIUM = os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_missing(reason: str) -> None:
    """CI must not pass by testing nothing: there a missing browser fails the test."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason} (.ci/run installs it: apt-get install chromium)")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        browser_missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_missing("the playwright package is not installed (pip install -e '.[test]')")
        raise
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    context: BrowserContext
    page: Page
    urls: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        foreign = [u for u in self.urls if urlsplit(u).hostname != "127.0.0.1"]
        assert foreign == [], f"requests to other hosts: {foreign}"
        assert self.urls, "the page made no request at all"
        assert self.problems == [], f"browser console: {self.problems}"


def watch(
    browser: Browser,
    *,
    viewport: tuple[int, int] = (1280, 900),
    color_scheme: str = "light",
) -> Watched:
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]},
        color_scheme="dark" if color_scheme == "dark" else "light",
    )
    page = context.new_page()
    watched = Watched(context, page)

    def route(r: Route) -> None:
        watched.urls.append(r.request.url)
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            r.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            watched.problems.append(f"{message.type}: {message.text} ({message.location})")

    context.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda exc: watched.problems.append(f"page error: {exc}"))
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() before revoking
    return watched
