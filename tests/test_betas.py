"""The `anthropic-beta` allow-list of each provider: its own `betas:`, else its vendor's."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.betas import allowed, filtered, split
from switchboard.config import ProviderConfig
from switchboard.kinds import ProviderKind

FLAGS = "claude-code-20250219, interleaved-thinking-2025-05-14,context-1m-2025-08-07"


def provider(**fields: Any) -> ProviderConfig:
    return ProviderConfig(**{"name": "p", "kind": ProviderKind.ANTHROPIC, "base_url": "", **fields})


@pytest.mark.parametrize(
    ("base_url", "everything"),
    [
        ("https://api.anthropic.com", True),
        ("http://127.0.0.1:8080", True),  # an Anthropic-dialect server nobody listed
        ("https://api.deepseek.com/anthropic", False),
        ("https://api.moonshot.ai/anthropic", False),
        ("https://api.moonshot.cn/anthropic", False),
        ("https://bedrock-runtime.us-east-1.amazonaws.com", False),
        ("https://us-east5-aiplatform.googleapis.com/v1", False),
        ("https://api.deepseek.com.example.net", True),  # the host, not a substring
    ],
)
def test_built_in_lists_by_host(base_url: str, everything: bool) -> None:
    assert (allowed(provider(base_url=base_url)) is None) is everything


def test_the_config_list_comes_first() -> None:
    p = provider(base_url="https://api.deepseek.com/anthropic", betas=["context-1m-2025-08-07"])
    assert split(FLAGS, allowed(p)) == (
        "context-1m-2025-08-07",
        ["claude-code-20250219", "interleaved-thinking-2025-05-14"],
    )


def test_bedrock_by_kind() -> None:
    p = provider(kind=ProviderKind.BEDROCK, region="us-east-1")
    kept, removed = split(FLAGS, allowed(p))
    assert kept == "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
    assert removed == ["claude-code-20250219"]


def test_nothing_left_removes_the_header_and_reports_each_flag() -> None:
    p = provider(base_url="https://api.moonshot.ai/anthropic")
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": FLAGS}
    out, notes = filtered(headers, p)
    assert out == {"anthropic-version": "2023-06-01"}
    assert len(notes) == 3
    assert notes[0] == "anthropic-beta claude-code-20250219 (not taken by p)"


def test_anthropic_gets_the_header_as_sent() -> None:
    headers = {"anthropic-beta": FLAGS}
    assert filtered(headers, provider(base_url="https://api.anthropic.com")) == (headers, [])
