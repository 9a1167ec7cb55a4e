"""The redactor: every configured secret and key-shaped string masked, ordinary text untouched;
and the log lines that carry outside text pass it."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator

import pytest

from switchboard.config import parse_config
from switchboard.errors import UpstreamError
from switchboard.log import _Enqueue, _JsonLines, access, access_log, use_redactor
from switchboard.redact import Redactor, configured_secrets

CONFIG = {
    "master_key": "config-master-key-0001",
    "database": "postgresql://sb:db-password-0002@127.0.0.1:5432/sb",
    "redis": "redis://:redis-password-0003@127.0.0.1:6379/0",
    "providers": [
        {
            "name": "oai",
            "kind": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "api_key": "first-provider-key-0004",
            "api_keys": ["second-provider-key-0005", "none"],
            "headers": {"api-key": "azure-header-key-0006", "HTTP-Referer": "https://my.app"},
        }
    ],
    "keys": [{"name": "ci", "key": "config-client-key-0007"}],
    "models": [
        {
            "id": "m",
            "channels": [{"provider": "oai", "model": "x", "api_key": "channel-key-0008"}],
        }
    ],
}
CONFIGURED = [
    "resolved-master-key-0000",
    "config-master-key-0001",
    "db-password-0002",
    "redis-password-0003",
    "first-provider-key-0004",
    "second-provider-key-0005",
    "azure-header-key-0006",
    "config-client-key-0007",
    "channel-key-0008",
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor.of(parse_config(CONFIG, "test", env={}), CONFIGURED[0])


def test_every_configured_secret_is_known() -> None:
    found = configured_secrets(parse_config(CONFIG, "test", env={}), CONFIGURED[0])
    assert set(CONFIGURED) <= set(found)
    # Too short to be a secret (and masking it would mangle words); not a credential header.
    assert "none" not in found
    assert "https://my.app" not in found


@pytest.mark.parametrize("secret", CONFIGURED)
def test_configured_secrets_are_masked(redactor: Redactor, secret: str) -> None:
    assert (
        redactor.text(f"upstream said: bad key {secret}!") == "upstream said: bad key [redacted]!"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Incorrect API key provided: sk-proj-abcDEF0123456789xyz. See your API keys.",
            "Incorrect API key provided: [redacted]. See your API keys.",
        ),
        ("invalid x-api-key sk-ant-api03-AbCdEf0123456789-_xyz", "invalid x-api-key [redacted]"),
        ("client key sk-sb-q1w2e3r4t5y6u7i8o9p0 unknown", "client key [redacted] unknown"),
        ("key=AIzaSyA1234567890abcdefghijklmnopqrstuv", "key=[redacted]"),
        ("Authorization: Bearer 0123abcd4567efgh", "Authorization: Bearer [redacted]"),
        ("Invalid API key: 9f8e7d6c5b4a39281706", "Invalid API key: [redacted]"),
        ("token=abc123def456ghi", "token=[redacted]"),
        (
            "groq gsk_AbCdEf0123456789AbCdEf and xai-AbCdEf0123456789AbCd",
            "groq [redacted] and [redacted]",
        ),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-nature", "jwt [redacted]"),
    ],
)
def test_key_shapes_are_masked(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens: 200000 > 128000; prompt is too long: 250000 tokens",
        "model claude-3-5-sonnet-20241022 not found (request req_011CSHoEeqs5C35K2UUqR7Fy)",
        "the secret sauce; a task-based, risk-free plan; Unexpected token < in JSON",
        "Authentication Fails, Your api key: ****abcd is invalid",
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        "Rate limit reached for gpt-5.5 in organization org-abc on tokens per min (TPM)",
    ],
)
def test_ordinary_text_is_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.text(text) is text


def test_an_exa_search_key_is_masked() -> None:
    # Exa's keys are bare UUIDs: no key shape finds them, only the configured value does.
    key = "4b1f0c7e-93d2-4a6e-b8f5-0c2d7e9a1f36"
    config = parse_config({"search": {"backend": "exa", "api_key": key}}, "t", env={})
    r = Redactor.of(config, "master-key-for-the-exa-test")
    assert r.text(f"search failed: {key} rejected") == "search failed: [redacted] rejected"


def test_a_relayed_frame_is_masked_in_its_json_form() -> None:
    r = Redactor(configured_secrets(parse_config({}, "t", env={}), "slash/in+the=master/key"))
    raw = b'event: error\ndata: {"error":{"message":"bad slash\\/in+the=master\\/key"}}\n\n'
    assert r.frame(raw) == b'event: error\ndata: {"error":{"message":"bad [redacted]"}}\n\n'
    clean = b"event: error\ndata: {}\n\n"
    assert r.frame(clean) is clean


def test_an_in_stream_error_is_masked(redactor: Redactor) -> None:
    exc = UpstreamError.from_status(500, "echo first-provider-key-0004", provider="oai")
    masked = redactor.error(exc)
    assert "first-provider-key-0004" not in str(masked)
    assert masked.message.endswith("echo [redacted]")


@pytest.fixture
def lines(redactor: Redactor) -> Iterator[queue.SimpleQueue[str]]:
    """The package's log records as start_logging writes them, into a queue."""
    out: queue.SimpleQueue[str] = queue.SimpleQueue()
    handler = _Enqueue(out)
    handler.setFormatter(_JsonLines())
    logger = logging.getLogger("switchboard.test_redact")
    logger.addHandler(handler)
    before = access_log.redact, access_log.lines, access.level
    use_redactor(redactor.text)
    access_log.lines = out
    access.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        access_log.redact, access_log.lines, level = before
        access.setLevel(level)


def test_log_lines_are_masked(lines: queue.SimpleQueue[str]) -> None:
    logger = logging.getLogger("switchboard.test_redact")
    logger.warning("retrying with key %s", "second-provider-key-0005")
    try:
        raise RuntimeError("cannot connect: postgresql://sb:db-password-0002@127.0.0.1/sb")
    except RuntimeError:
        logger.exception("startup failed")
    access_log({"status": 502, "error": "upstream quoted sk-ant-api03-AbCdEf0123456789xyz"})
    access_log({"status": 200, "model": "m"})
    written = [lines.get_nowait() for _ in range(4)]
    text = "".join(written)
    for secret in ("second-provider-key-0005", "db-password-0002", "sk-ant-api03-AbCdEf"):
        assert secret not in text
    assert all("[redacted]" in line for line in written[:3])
    assert written[3] == '{"status":200,"model":"m"}\n'


def test_a_long_upstream_message_is_cut_between_words(redactor: Redactor) -> None:
    # The configured key straddles the cut: no piece of it may survive.
    key = "first-provider-key-0004"
    text = "x " * 495 + "y" * 5 + " " + key + " and more"
    assert len(text.split(key)[0]) < 1000 < len(text.split(key)[0]) + len(key)
    out = redactor.upstream(text)
    assert out.endswith("y" * 5 + " [...]")
    assert "first-" not in out
    assert redactor.upstream("x" * 5000) == "[...]"
    assert redactor.upstream("short") == "short"
