"""The console in a real browser (headless Chromium driven by Playwright) against a real gateway
that real SDK requests went through. Every test also asserts that the page asked no other host
for anything and that the browser console stayed free of errors and warnings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import anthropic
import pytest

from tests.console.browser import Watched, chromium, watch
from tests.console.conftest import CLIENT_KEY, MASTER_KEY, ask, start_gateway, wait_ledger
from tests.support.gateway import GatewayProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

PAGES = ["/console", "/console/keys", "/console/usage", "/console/requests"]
PAGES += ["/console/teams", "/console/channels", "/console/models"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    w = watch(browser)
    try:
        yield w
        w.assert_clean()
    finally:
        w.context.close()


def sign_in(page: Page, gateway: GatewayProcess, key: str = MASTER_KEY) -> None:
    page.goto(gateway.url + "/console")
    assert page.url == gateway.url + "/console/login"
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway of its own, so the numbers on its overview are this test's alone."""
    gw = start_gateway(tmp_path)
    try:
        yield gw
    finally:
        gw.stop()


def test_sign_in_with_the_keyboard_and_see_real_numbers(
    fresh_gateway: GatewayProcess, watched: Watched
) -> None:
    gateway = fresh_gateway
    replies = [ask(gateway, CLIENT_KEY) for _ in range(3)]
    with pytest.raises(anthropic.APIStatusError):
        ask(gateway, CLIENT_KEY, model="test/dead")
    wait_ledger(gateway, 4)  # written in batches, off the request path
    page = watched.page
    page.goto(gateway.url + "/")
    assert page.url == gateway.url + "/console/login"
    # The key field has the focus on arrival; Enter submits.
    page.keyboard.type(MASTER_KEY)
    page.keyboard.press("Enter")
    page.wait_for_url(gateway.url + "/console")
    assert page.locator("#stat-requests").inner_text() == "4"
    assert page.locator("#stat-errors").inner_text() == "1"
    output = sum(r.usage.output_tokens for r in replies)
    assert page.locator("#stat-output").inner_text() == f"{output:,}"
    assert page.locator("#stat-cost").inner_text().startswith("$0.0")
    # Every chart was drawn (uPlot renders into a canvas) with a series per model.
    page.wait_for_selector("figure[data-chart] canvas")
    assert page.locator("figure[data-chart] canvas").count() == 5
    legend = page.locator("figure[data-chart=requests] .u-legend").inner_text()
    assert "switchboard/demo" in legend
    assert "test/dead" in legend
    # The other windows and groupings.
    page.click("text=Last 30 days")
    page.wait_for_url(re.compile(r".*window=30d.*"))
    page.click("fieldset.segmented >> text=key")
    page.wait_for_url(re.compile(r".*by=key.*"))
    assert page.locator("#by-group").inner_text().count("config:ci") == 1
    # Sign out with the keyboard: focus the button, press Enter.
    page.focus(".signout button")
    page.keyboard.press("Enter")
    page.wait_for_url(gateway.url + "/console/login")
    page.goto(gateway.url + "/console/keys")
    assert page.url == gateway.url + "/console/login"


def test_create_a_key_use_it_and_revoke_it(gateway: GatewayProcess, watched: Watched) -> None:
    page = watched.page
    sign_in(page, gateway)
    page.goto(gateway.url + "/console/keys")
    page.fill("#f-name", "browser-made")
    page.fill("#f-models", "switchboard/demo")
    page.fill("#f-rpm", "100")
    page.fill("#f-budget_usd", "2")
    page.select_option("#f-budget_period", "day")
    page.click("#create-key button[type=submit]")
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("sk-sb-")
    page.click("#copy-secret")
    page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
    # The new key works with the Anthropic SDK, for its model only.
    assert ask(gateway, secret).content[0].type == "text"
    with pytest.raises(anthropic.APIStatusError):
        ask(gateway, secret, model="test/dead")
    # The secret is nowhere once the page that showed it is left.
    page.click("text=Back to the keys")
    row = page.locator('tr[data-key-name="browser-made"]')
    assert "100 rpm" in row.inner_text()
    assert "of $2.00 / day" in row.inner_text()
    assert secret not in page.content()
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector('tr[data-key-name="browser-made"] .state-revoked')
    with pytest.raises(anthropic.AuthenticationError) as refused:
        ask(gateway, secret)
    assert refused.value.status_code == 401
    assert "revoked" in str(refused.value)


def test_a_client_key_cannot_sign_in(gateway: GatewayProcess, watched: Watched) -> None:
    page = watched.page
    sign_in(page, gateway, CLIENT_KEY)
    assert page.url == gateway.url + "/console/login"
    assert "client key" in page.locator("#login-error").inner_text()
    assert page.context.cookies() == [] or all(
        c["name"] != "sb_session" for c in page.context.cookies()
    )
    # The 401 answer is what the browser logs; nothing else may be there.
    watched.problems = [p for p in watched.problems if "status of 401" not in p]


def test_requests_arrive_live_and_open_to_their_details(
    gateway: GatewayProcess, watched: Watched
) -> None:
    page = watched.page
    sign_in(page, gateway)
    page.goto(gateway.url + "/console/requests")
    page.evaluate("window.notReloaded = true")
    with anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="switchboard/demo", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    request_id = raw.headers["request-id"]
    link = page.locator(f'a[href="/console/requests/{request_id}"]')
    link.wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    link.click()
    details = page.locator("#request-details").inner_text()
    assert "demo/demo" in details
    assert "config:ci" in details


def test_channels_page_puts_a_channel_back_in_service(
    gateway: GatewayProcess, watched: Watched
) -> None:
    for _ in range(3):
        with pytest.raises(anthropic.APIStatusError):
            ask(gateway, CLIENT_KEY, model="test/dead")
    page = watched.page
    sign_in(page, gateway)
    page.goto(gateway.url + "/console/channels")
    assert "cooldown" in page.locator("#channels").inner_text()
    page.click("text=Put back in service")
    assert "dead/gone#0 is back in service" in page.locator("#reset-done").inner_text()
    assert "cooldown" not in page.locator("#channels").inner_text()


@pytest.mark.parametrize(("size", "scheme"), [((390, 844), "dark"), ((1280, 900), "light")])
def test_every_page_fits_the_screen_in_both_schemes(
    gateway: GatewayProcess, browser: Browser, size: tuple[int, int], scheme: str
) -> None:
    ask(gateway, CLIENT_KEY)
    w = watch(browser, viewport=size, color_scheme=scheme)
    try:
        sign_in(w.page, gateway)
        for path in PAGES:
            w.page.goto(gateway.url + path)
            assert w.page.url == gateway.url + path
            # No sideways scrolling of the page itself: wide tables scroll in their own box.
            width = w.page.evaluate("document.documentElement.scrollWidth")
            assert width <= size[0], (path, width)
            background = w.page.evaluate("getComputedStyle(document.body).backgroundColor")
            dark = background == "rgb(21, 22, 26)"
            assert dark == (scheme == "dark"), (path, background)
        w.assert_clean()
    finally:
        w.context.close()
