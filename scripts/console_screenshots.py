"""Screenshots of every console page on real data, for docs/console/ and the README.

    .venv/bin/python scripts/console_screenshots.py [--out docs/console]

Starts a gateway on 127.0.0.1 (the offline demo model and a channel that refuses connections),
creates keys through the admin API, sends a few hundred real requests with the Anthropic SDK
(some of them failing), then opens each page in headless Chromium (system Chromium through
Playwright, as the browser tests do) and saves it. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402
import httpx  # noqa: E402
from tests.console.browser import chromium, watch  # noqa: E402
from tests.console.conftest import MASTER_KEY, start_gateway  # noqa: E402

PAGES = [
    ("overview", "/console?window=hour&by=key"),
    ("keys", "/console/keys"),
    ("usage", "/console/usage?group_by=key"),
    ("requests", "/console/requests"),
    ("channels", "/console/channels"),
    ("models", "/console/models"),
]
WORDS = [
    "route",
    "the",
    "request",
    "to",
    "the",
    "healthiest",
    "channel",
    "and",
    "count",
    "every",
    "token",
    "it",
    "used",
]


def traffic(base: str) -> None:
    rng = random.Random(14)
    with httpx.Client(base_url=base, headers={"x-api-key": MASTER_KEY}, trust_env=False) as api:
        keys = [
            api.post("/admin/keys", json=fields).json()["key"]
            for fields in (
                {"name": "web-app", "rpm": 600, "budget_usd": 50, "budget_period": "month"},
                {"name": "batch-jobs", "tpm": 200000, "max_concurrent": 8},
                {
                    "name": "claude-code",
                    "models": ["switchboard/demo"],
                    "budget_usd": 5,
                    "budget_period": "day",
                },
            )
        ]
    for i in range(240):
        key = keys[i % 3]
        model = "test/dead" if rng.random() < 0.06 else "switchboard/demo"
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 400)))
        with anthropic.Anthropic(base_url=base, api_key=key, max_retries=0) as sdk:
            try:
                if rng.random() < 0.5:
                    with sdk.messages.stream(
                        model=model,
                        max_tokens=rng.randint(20, 300),
                        messages=[{"role": "user", "content": text}],
                    ) as stream:
                        stream.until_done()
                else:
                    sdk.messages.create(
                        model=model,
                        max_tokens=rng.randint(20, 300),
                        messages=[{"role": "user", "content": text}],
                    )
            except anthropic.APIError:
                pass  # the dead channel: errors are part of the picture
    time.sleep(0.5)  # the ledger is written in batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-shots-"))
    gateway = start_gateway(tmp)
    try:
        traffic(gateway.url)
        with chromium() as browser:
            for scheme, size, pages in (
                ("light", (1280, 860), PAGES),
                ("dark", (1280, 860), PAGES[:1]),
                ("dark", (390, 844), PAGES[:1]),
            ):
                w = watch(browser, viewport=size, color_scheme=scheme)
                page = w.page
                page.goto(gateway.url + "/console/login")
                if scheme == "light" and size[0] > 1000:
                    page.screenshot(path=str(args.out / "login.png"))
                page.fill("input[name=key]", MASTER_KEY)
                page.click("button[type=submit]")
                page.wait_for_url(gateway.url + "/console")
                for name, path in pages:
                    page.goto(gateway.url + path)
                    page.wait_for_load_state("networkidle")
                    suffix = "" if scheme == "light" else "-dark"
                    suffix += "-phone" if size[0] < 500 else ""
                    page.screenshot(path=str(args.out / f"{name}{suffix}.png"), full_page=True)
                    if name == "requests" and scheme == "light":
                        page.click("#request-rows a >> nth=0")
                        page.screenshot(path=str(args.out / "request.png"), full_page=True)
                w.assert_clean()
                w.context.close()
    finally:
        gateway.stop()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
