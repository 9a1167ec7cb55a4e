"""The Bedrock signer's caches (signing key per day, canonical paths, the host) give botocore's
own SigV4 headers, byte for byte, across a change of day and of credentials."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from switchboard.config import ProviderConfig
from switchboard.kinds import ProviderKind
from switchboard.upstreams.bedrock_sigv4 import SERVICE, Signer

URL = "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-x%3A0/invoke"
BODY = b'{"anthropic_version":"bedrock-2023-05-31","messages":[]}'


def botocore_headers(creds: Any, url: str, body: bytes, accept: str) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": accept}
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(creds, SERVICE, "eu-west-3").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


def at(when: datetime.datetime) -> Any:
    return mock.patch("botocore.auth.get_current_datetime", return_value=when)


@pytest.mark.parametrize("token", ["", "session-token"])
def test_cached_signing_gives_botocores_headers(token: str) -> None:
    provider = ProviderConfig(
        name="b",
        kind=ProviderKind.BEDROCK,
        region="eu-west-3",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret-one",
        aws_session_token=token,
    )
    signer = Signer(provider)
    creds = Credentials("AKIDEXAMPLE", "secret-one", token or None).get_frozen_credentials()
    day = datetime.datetime(2026, 12, 3, 23, 59, 59)
    cases = [
        (day, URL, BODY, "application/json"),
        (day, URL.replace("invoke", "invoke-with-response-stream"), b"", "x/y"),
        (day + datetime.timedelta(seconds=1), URL, BODY + b" ", "application/json"),  # next day
        (day + datetime.timedelta(days=3), URL, BODY, "application/json"),
    ]
    for when, url, body, accept in cases:
        with at(when):
            ours = asyncio.run(signer.headers(url, body, accept))
            assert ours == botocore_headers(creds, url, body, accept)
            assert "host" not in ours  # the HTTP client writes its own


def test_refreshed_credentials_get_a_new_signing_key() -> None:
    provider = ProviderConfig(
        name="b",
        kind=ProviderKind.BEDROCK,
        region="eu-west-3",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret-one",
    )
    signer = Signer(provider)
    when = datetime.datetime(2026, 12, 3, 12, 0, 0)
    with at(when):
        first = asyncio.run(signer.headers(URL, BODY, "application/json"))
        rotated = Credentials("AKIDEXAMPLE", "secret-two")
        signer._credentials = rotated  # what botocore's refresh does to a chain's credentials
        second = asyncio.run(signer.headers(URL, BODY, "application/json"))
        expected = botocore_headers(rotated.get_frozen_credentials(), URL, BODY, "application/json")
    assert second == expected
    assert first["authorization"] != second["authorization"]
