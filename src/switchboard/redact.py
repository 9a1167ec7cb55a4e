"""Secrets out of text the gateway did not write: an upstream's error message (several providers
quote the key they received), an upstream's error event relayed as it came, a log line, a
captured request.

One `Redactor` is built per app from the config: every configured secret (provider keys, every
key of a rotation, channel keys, client keys written in the config, the master key, credential
headers, database and Redis passwords) as literals, and the shapes of keys nobody configured
here (client keys are only stored hashed; other providers' keys): `sk-...` (OpenAI, Anthropic's
`sk-ant-`, OpenRouter's `sk-or-`, Switchboard's own `sk-sb-`, DeepSeek, Moonshot, DashScope),
Google's `AIza...`, `gsk_`/`xai-`/`hf_`-style prefixes, JWTs, Z.ai's `id.secret`, and any
value with a digit written after a word that names a credential ("api key: ...", "Bearer ...",
"token=..."). Plain words, model names, request ids and token counts are left alone.

Built once; it runs on error text and log lines that may carry outside text, and on what
request capture stores (capture/recorder.py). Its cost grows with the text and the number of
places that look like the start of a key, about 16 µs per KB of a Claude Code request body
(bench/redaction.py), and stays linear whatever the text."""

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

# Key shapes, each as the literals every match of it starts with (what `Redactor.text` looks
# for before it runs the pattern) and what follows them.
_PREFIXED = (
    (("sk-",), r"[A-Za-z0-9_*-]{12,}"),
    (("AIza",), r"[0-9A-Za-z_-]{30,}"),
    (("xai-", "pplx-", "nvapi-", "csk-"), r"[A-Za-z0-9_-]{16,}"),
    (
        ("gsk_", "hf_", "r8_", "fw_", "ghp_", "gho_", "github_pat_", "glpat_"),
        r"[A-Za-z0-9_-]{16,}",
    ),
    (("AKIA",), r"[0-9A-Z]{16}\b"),
    (("eyJ",), r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
)
_JWT = len(_PREFIXED) - 1  # the JWT's place among them
# Z.ai's `id.secret` starts with no literal: it is found by its dot, 32 characters in.
_ZAI = r"\b[0-9a-f]{32}\.[A-Za-z0-9]{16}\b"
_ZAI_DOT = re.compile(r"\.[A-Za-z0-9]{16}")
# The words that label a credential, each as the literal it starts with (looked for in the
# case-folded text) and the rest.
_WORDS = (
    ("api", "[-_ ]?key"),
    ("x-api-key", ""),
    ("access", "[-_ ]?token"),
    ("auth", "[-_ ]?token"),
    ("token", ""),
    ("secret", ""),
    ("password", ""),
    ("bearer", ""),
)
# The label stays, the value goes; the value must hold a digit, so "secret sauce" stays.
_LABELLED = (
    r"(?P<label>(?i:\b(?:"
    + "|".join(re.escape(first) + rest for first, rest in _WORDS)
    + r")\b)(?:\s+provided)?[\s:=\"'`]{1,4})"
    r"(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{7,}[A-Za-z0-9_~+/=-]"
)
# What the value's look-ahead reads before it wants a digit, and the longest label a match can
# start with before its value ("access_token" and four "="): see `_label_fails`.
_NOT_VALUE_LETTER = re.compile(r"[^A-Za-z._~+/=-]")
_LONGEST_LABEL = 12 + 4
_NOT_JWT_LETTER = re.compile(r"[^A-Za-z0-9_-]")
_BOUNDARY = re.compile(r"\b")
# A configured secret is looked for by this many of its first characters: its forms (as written,
# JSON-escaped) mostly share them, and so one search finds them all.
_SECRET_PREFIX = 16
# Characters that IGNORECASE matches to an ASCII letter but `str.lower` does not lower to it
# (the Turkish dotted and dotless i, the long s); they fold to the letter, one for one, so that
# the label words are found by a plain search (tests/test_redact.py checks all of Unicode).
_FOLD = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"))

# The patterns' places in `Redactor._patterns`.
_SECRETS = 0
_SHAPE = 1
_ZAI_AT = _SHAPE + len(_PREFIXED)
_LABEL = _ZAI_AT + 1


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
    return written_forms(s for s in map(str.strip, found) if len(s) >= MIN_SECRET)


def written_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as written and as written in JSON (a relayed body or a log line carries the
    escaped form), longest first: where one is the start of another, the whole is masked."""
    forms: list[str] = []
    for secret in secrets:
        forms += [secret, orjson.dumps(secret).decode()[1:-1], secret.replace("/", "\\/")]
    return sorted(set(forms), key=len, reverse=True)


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
    """Built once per app (`create_app`); immutable, shared by every request.

    Its patterns, in order of preference (where two match at one place, the first wins): the
    configured secrets (longest first), the key shapes, Z.ai's, the labelled value. Trying them
    all at every character, as one alternation, cost about 0.27 µs a character whatever the
    text (27 ms for a 90 KB capture). `text` looks for the literals each pattern starts with
    instead (`str.find`, tens of µs per 90 KB each) and tries a pattern only where one of its
    literals is, left to right, as `re.sub` would with the alternation; tests/test_redact_scan.py
    keeps that alternation and checks that the two mask the same."""

    __slots__ = ("_literals", "_patterns")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        secrets = [s for s in secrets if s]  # an empty one would match everywhere
        shapes = [rf"\b(?:{'|'.join(map(re.escape, p))}){rest}" for p, rest in _PREFIXED]
        self._patterns = tuple(
            re.compile(p)
            for p in ["|".join(map(re.escape, secrets)) or "(?!)", *shapes, _ZAI, _LABELLED]
        )
        starts = [(s[:_SECRET_PREFIX], _SECRETS) for s in secrets]
        starts += [(p, _SHAPE + i) for i, (prefixes, _) in enumerate(_PREFIXED) for p in prefixes]
        self._literals = _searches(starts)

    @classmethod
    def of(cls, config: Config, master_key: str) -> Redactor:
        return cls(configured_secrets(config, master_key))

    def text(self, text: str) -> str:
        """Configured secrets and key-shaped strings masked (the same object when none)."""
        patterns = self._patterns
        pieces: list[str] = []
        done = 0  # what is before this is in pieces
        run_from = run_end = 0  # a run of value letters (see _label_fails)
        jwt_fails_before = 0
        for at, which in sorted(self._hits(text)):
            if at < done:
                continue
            if which == _LABEL:
                if not run_from <= at < run_end:
                    stop = _NOT_VALUE_LETTER.search(text, at)
                    run_from, run_end = at, stop.start() if stop else len(text)
                if _label_fails(text, at, run_end):
                    continue
            elif which == _SHAPE + _JWT and at < jwt_fails_before:
                continue
            found = patterns[which].match(text, at)
            if found is None:
                if which == _SHAPE + _JWT and _BOUNDARY.match(text, at):
                    # What follows a JWT's "eyJ" up to its first dot is the same for every
                    # "eyJ" before that dot: if this one fails, so do they (one reading of a
                    # long "eyJ-eyJ-..." instead of one per "eyJ").
                    stop = _NOT_JWT_LETTER.search(text, at)
                    jwt_fails_before = stop.start() if stop else len(text)
                continue
            pieces += (text[done:at], found["label"] + MASK if which == _LABEL else MASK)
            done = found.end()
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)

    def _hits(self, text: str) -> list[tuple[int, int]]:
        """(place, pattern) for each place where a pattern may match: where one of the literals
        it starts with is."""
        hits: list[tuple[int, int]] = []
        for literals in self._literals:
            literals.find(text, hits)
        folded = _folded(text)
        for literals in _WORD_SEARCHES:
            literals.find(folded, hits)
        hits += [(m.start() - 32, _ZAI_AT) for m in _ZAI_DOT.finditer(text, 32)]
        return hits

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


def _searches(starts: Iterable[tuple[str, int]]) -> tuple[_Literals, ...]:
    """The searches that find every (literal, pattern) of `starts`. A literal that begins with
    another is left to that one's search, which finds it too, its patterns with it; literals
    that end in the same punctuation ("sk-", "xai-"; "hf_", "gsk_") are found together."""
    kept: dict[str, set[int]] = {}
    for literal, which in sorted(starts, key=lambda s: len(s[0])):
        shorter = next((k for k in kept if literal.startswith(k)), literal)
        kept.setdefault(shorter, set()).add(which)
    groups: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for literal, patterns in kept.items():
        # A letter or digit is too common in text for a search of it to pay.
        last = literal if literal[-1].isalnum() else literal[-1]
        groups.setdefault(last, []).append((literal, tuple(sorted(patterns))))
    return tuple(_Literals(tuple(group)) for group in groups.values())


class _Literals:
    """Literals that end in the same character, each with the patterns that start with it,
    found in one reading of the text: one literal with `str.find`, several by a search for
    that character that looks behind it for each (one pass instead of one per literal, each
    about 50 µs per 90 KB)."""

    __slots__ = ("_literals", "_search")

    def __init__(self, literals: tuple[tuple[str, tuple[int, ...]], ...]) -> None:
        self._literals = literals
        behind = "|".join(f"(?<={re.escape(literal)})" for literal, _ in literals)
        last = re.escape(literals[0][0][-1])
        self._search = re.compile(f"{last}(?:{behind})") if len(literals) > 1 else None

    def find(self, text: str, hits: list[tuple[int, int]]) -> None:
        """Add (place, pattern) for each place a literal is, for each pattern it starts."""
        if self._search is None:
            literal, patterns = self._literals[0]
            at = text.find(literal)
            while at >= 0:
                hits += [(at, which) for which in patterns]
                at = text.find(literal, at + 1)
            return
        for found in self._search.finditer(text):
            end = found.end()
            for literal, patterns in self._literals:
                at = end - len(literal)
                if at >= 0 and text.startswith(literal, at):
                    hits += [(at, which) for which in patterns]


def _folded(text: str) -> str:
    """The text lowered, each character where it was: an ASCII letter that IGNORECASE would
    match in `text` is that letter here."""
    if not text.isascii():
        for odd, letter in _FOLD:
            text = text.replace(odd, letter)
    return text.lower()


def _label_fails(text: str, at: int, run_end: int) -> bool:
    """Whether the labelled pattern surely fails at `at`, given where the run of value letters
    (`[A-Za-z._~+/=-]`) from `at` ends. Its value's look-ahead reads value letters until it finds
    a digit. A label that starts in such a run going on for _LONGEST_LABEL characters ends
    inside it (the longest word, "access_token", then at most four "=": its other separators
    are not value letters), so its value starts inside it too and the look-ahead stops where
    the run does: no digit there, no match. Without this check, text like "token=token=..."
    (no digit) costs one reading of the rest of the run per word: quadratic, 17 s for 120 KB."""
    if at + _LONGEST_LABEL > run_end:
        return False
    return run_end == len(text) or not "0" <= text[run_end] <= "9"


_WORD_SEARCHES = _searches((first, _LABEL) for first, _ in _WORDS)
