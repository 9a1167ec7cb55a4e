"""Providers: who serves the models (kind, URL, keys, timeouts, what the upstream accepts), and
the checks of the cloud kinds' settings (Vertex AI, AWS Bedrock)."""

from __future__ import annotations

import os
import re
from typing import Literal

from switchboard.config.base import Strict
from switchboard.config.errors import Problems
from switchboard.kinds import ProviderKind


class Timeouts(Strict, frozen=True):
    """Seconds. `connect` bounds opening the connection, `first_byte` the wait for response
    headers, `idle` the gap between stream chunks, `total` a whole non-streaming call."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 300.0
    total: float = 900.0


class ProviderConfig(Strict, frozen=True):
    name: str
    kind: ProviderKind
    base_url: str = ""
    api_key: str | None = None
    # More keys of the same account or of others: channels spread their traffic across all of
    # them (`api_key` counts as the first).
    api_keys: list[str] = []
    headers: dict[str, str] = {}
    # Which field carries the output limit upstream: OpenAI reasoning models reject `max_tokens`,
    # Ollama ignores `max_completion_tokens`.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # Whether the upstream takes `top_k` (vLLM, SGLang, llama.cpp, OpenRouter do; OpenAI does not).
    accepts_top_k: bool = False
    # Clean tool schemas of keywords strict validators refuse (Moonshot, strict OpenAI mode).
    strict_schemas: bool = False
    # An exact token counter for count_tokens: a vLLM or SGLang `/tokenize` URL (chat form).
    tokenize_url: str | None = None
    timeouts: Timeouts = Timeouts()
    # Whether a translated request's user id (Anthropic `metadata.user_id`) goes to an
    # OpenAI-dialect upstream as its `user` field. Off: Claude Code's carries a device id,
    # which another vendor has no need of.
    forward_user: bool = False
    # A non-streaming reply larger than this (once decompressed) is an upstream failure, not
    # something to buffer.
    max_reply_bytes: int = 64 * 1024 * 1024
    # The same for one event of a streamed reply: one that never ends must not grow forever.
    max_event_bytes: int = 16 * 1024 * 1024
    # Vertex AI (`kind: vertex`): the Google Cloud project and location that serve the models,
    # and the credentials file (service account...); without one, application-default
    # credentials. `base_url` then defaults to the location's aiplatform endpoint.
    project: str | None = None
    location: str = "global"
    credentials_file: str | None = None
    # AWS Bedrock (`kind: bedrock`): the region, and credentials from the config (else the
    # standard AWS chain: environment, shared files and `aws_profile`, web identity, instance
    # role). `base_url` is optional there: https://bedrock-runtime.{region}.amazonaws.com.
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_profile: str | None = None
    # Anthropic pass-through: the `anthropic-beta` flags this provider is sent (the others are
    # left out and reported). Unset: the built-in list of a known vendor (betas.py), else all.
    betas: list[str] | None = None
    # An OpenAI-kind upstream that also serves the Responses API at `{base_url}/responses`:
    # requests to the gateway's `/v1/responses` are relayed there as they are (else translated).
    responses_api: bool = False

    def keys(self) -> list[str | None]:
        """Every key to rotate through; [None] for a provider that needs none."""
        keys = ([self.api_key] if self.api_key else []) + [k for k in self.api_keys if k]
        return list(dict.fromkeys(keys)) or [None]


def check_vertex(i: int, p: ProviderConfig, problems: Problems) -> None:
    if p.base_url and not re.match(r"^https?://", p.base_url):
        problems.add(f"providers[{i}].base_url", "must be an http:// or https:// URL")
    # Both go into the URL's path and host: plain names only.
    if not p.project or not re.match(r"^[a-z][a-z0-9.:-]{0,62}$", p.project):
        problems.add(f"providers[{i}].project", "a Google Cloud project id is required")
    if not re.match(r"^[a-z][a-z0-9-]{0,62}$", p.location):
        problems.add(f"providers[{i}].location", "must be a location such as global or us-east5")
    if p.credentials_file is not None and not os.path.isfile(p.credentials_file):
        problems.add(f"providers[{i}].credentials_file", f"no file at {p.credentials_file}")


def check_bedrock(p: ProviderConfig, where: str, problems: Problems) -> None:
    if not p.region or not re.match(r"^[a-z0-9-]{1,40}$", p.region):
        problems.add(f"{where}.region", "a bedrock provider needs its AWS region (e.g. us-east-1)")
    if p.base_url and not re.match(r"^https?://", p.base_url):
        problems.add(f"{where}.base_url", "must be an http:// or https:// URL (or left out)")
    if bool(p.aws_access_key_id) != bool(p.aws_secret_access_key):
        problems.add(
            f"{where}.aws_secret_access_key",
            "aws_access_key_id and aws_secret_access_key go together",
        )
    if p.api_key or p.api_keys:
        problems.add(f"{where}.api_key", "bedrock signs with AWS credentials, not an API key")
