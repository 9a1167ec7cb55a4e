"""What the Google tests share: the clients as users configure them, and raw calls."""

from __future__ import annotations

from typing import Any

import httpx

from tests.google.conftest import CLIENT_KEY
from tests.support.gateway import GatewayProcess

HELLO: list[Any] = [{"role": "user", "content": "Hello"}]
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)
PDF = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"


def body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 256, "messages": HELLO, **extra}


def post(gw: GatewayProcess, data: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/messages", json=data, headers={"x-api-key": CLIENT_KEY}, timeout=15
    )


def stream(gw: GatewayProcess, data: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    with httpx.stream(
        "POST",
        gw.url + "/v1/messages",
        json={**data, "stream": True},
        headers={"x-api-key": CLIENT_KEY},
        timeout=15,
    ) as resp:
        return resp, resp.read()
