"""Secrets out of text the gateway did not write: an upstream's error message (several providers
quote the key they received), an upstream's error event relayed as it came, a log line.

One `Redactor` is built per app from the config: every configured secret (provider keys, every
key of a rotation, channel keys, client keys written in the config, the master key, credential
headers, database and Redis passwords) as literals, and the shapes of keys nobody configured
here (client keys are only stored hashed; other providers' keys): `sk-...` (OpenAI, Anthropic's
`sk-ant-`, OpenRouter's `sk-or-`, Switchboard's own `sk-sb-`, DeepSeek, Moonshot, DashScope),
Google's `AIza...`, `gsk_`/`xai-`/`hf_`-style prefixes, JWTs, Z.ai's `id.secret`, and any
value with a digit written after a word that names a credential ("api key: ...", "Bearer ...",
"token=..."). Plain words, model names, request ids and token counts are left alone.

One compiled alternation, built once; it costs microseconds per hundred characters, so it runs
on error text and log lines that may carry outside text, never on a successful request's path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import orjson

from switchboard.config import Config
from switchboard.errors import UpstreamError

MASK = "[redacted]"
# A configured "secret" shorter than this (`none`, `EMPTY`, `x` for a local server) is not one,
# and masking it would mangle ordinary words.
MIN_SECRET = 8
# An upstream's message is cut to this many characters: enough to say what went wrong, and
# what the pattern scans per error stays bounded (an upstream may send 64 KiB).
MAX_UPSTREAM_TEXT = 1000
# Header names whose values are credentials (Azure's `api-key`, a proxy's `Authorization`...).
_CREDENTIAL_HEADER = re.compile(r"auth|key|token|secret|cookie|password", re.IGNORECASE)

_SHAPES = (
    r"\bsk-[A-Za-z0-9_*-]{12,}",
    r"\bAIza[0-9A-Za-z_-]{30,}",
    r"\b(?:xai|pplx|nvapi|csk)-[A-Za-z0-9_-]{16,}",
    r"\b(?:gsk|hf|r8|fw|ghp|gho|github_pat|glpat)_[A-Za-z0-9_-]{16,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    r"\b[0-9a-f]{32}\.[A-Za-z0-9]{16}\b",
)
# The label stays, the value goes; the value must hold a digit, so "secret sauce" stays.
_LABELLED = (
    r"(?P<label>(?i:\b(?:api[-_ ]?key|x-api-key|access[-_ ]?token|auth[-_ ]?token|token"
    r"|secret|password|bearer)\b)(?:\s+provided)?[\s:=\"'`]{1,4})"
    r"(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{7,}[A-Za-z0-9_~+/=-]"
)


def configured_secrets(config: Config, master_key: str) -> list[str]:
    """Every secret the config holds, long enough to be one."""
    found = [master_key, config.master_key or ""]
    for provider in config.providers:
        found += [provider.api_key or "", *provider.api_keys]
        found += [provider.aws_secret_access_key or "", provider.aws_session_token or ""]
        found += _credentials(provider.headers)
    found += [c.api_key or "" for m in config.models for c in m.channels]
    found += [k.key for k in config.keys]
    found += _credentials(config.telemetry.headers)
    found.append(config.search.api_key or "" if config.search else "")
    for url in (config.database, config.redis or ""):
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        found.append(password or "")
    variants: list[str] = []
    for secret in found:
        secret = secret.strip()
        if len(secret) >= MIN_SECRET:
            # As written in JSON too: a relayed body or a log line carries the escaped form.
            variants += [secret, orjson.dumps(secret).decode()[1:-1], secret.replace("/", "\\/")]
    return sorted(set(variants), key=len, reverse=True)  # longest first: no partial masks


def masked(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as they may be stored: credentials masked, each value bounded."""
    return {k: MASK if _CREDENTIAL_HEADER.search(k) else v[:1000] for k, v in headers.items()}


def _credentials(headers: dict[str, str]) -> list[str]:
    """The values of credential headers, whole and without their scheme (`Bearer X`: X too,
    since what echoes a credential back usually quotes the token alone)."""
    found = []
    for name, value in headers.items():
        if _CREDENTIAL_HEADER.search(name):
            found += [value, value.split()[-1] if value.split() else ""]
    return found


class Redactor:
    """Built once per app (`create_app`); immutable, shared by every request."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern = re.compile("|".join([*map(re.escape, secrets), *_SHAPES, _LABELLED]))

    @classmethod
    def of(cls, config: Config, master_key: str) -> Redactor:
        return cls(configured_secrets(config, master_key))

    def text(self, text: str) -> str:
        """Configured secrets and key-shaped strings masked (the same object when none)."""
        pattern = self._pattern
        return pattern.sub(_mask, text) if pattern.search(text) else text

    def upstream(self, text: str) -> str:
        """An upstream's own message as clients and the log get it: bounded, then masked. The
        cut falls between words, so no piece of a key is left for the pattern to miss."""
        if len(text) > MAX_UPSTREAM_TEXT:
            cut = text[:MAX_UPSTREAM_TEXT]
            if not text[MAX_UPSTREAM_TEXT].isspace() and not cut[-1].isspace():
                words = cut.rsplit(None, 1)  # the last word was cut in two: drop it
                cut = words[0] if len(words) == 2 else ""
            text = (cut.rstrip() + " [...]").lstrip()
        return self.text(text)

    def frame(self, raw: bytes) -> bytes:
        """An upstream's SSE frame relayed as it came (an error event), masked."""
        text = raw.decode("utf-8", "replace")
        clean = self.text(text)
        return raw if clean is text else clean.encode()

    def error(self, exc: UpstreamError) -> UpstreamError:
        """The same error, its message masked: for errors a dialect decoder built from an
        upstream's in-stream error event."""
        clean = self.upstream(exc.message)
        if clean is not exc.message:
            exc.message = clean
            exc.args = (clean,)
        return exc


def _mask(match: re.Match[str]) -> str:
    label = match.group("label")
    return MASK if label is None else label + MASK
