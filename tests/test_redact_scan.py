"""The redactor's scan (it tries its patterns only where a literal they start with is) masks
exactly what the one alternation it replaced masked, on any text; and its time stays linear in
the text where that alternation's was quadratic."""

from __future__ import annotations

import re
import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from switchboard.redact import MASK, Redactor, _folded, written_forms

# The redactor as it was before the scan (commit 839ad23), kept as the oracle: every configured
# secret, then the key shapes, then the labelled value, in one alternation run over the text.
_OLD_SHAPES = (
    r"\bsk-[A-Za-z0-9_*-]{12,}",
    r"\bAIza[0-9A-Za-z_-]{30,}",
    r"\b(?:xai|pplx|nvapi|csk)-[A-Za-z0-9_-]{16,}",
    r"\b(?:gsk|hf|r8|fw|ghp|gho|github_pat|glpat)_[A-Za-z0-9_-]{16,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
    r"\b[0-9a-f]{32}\.[A-Za-z0-9]{16}\b",
)
_OLD_LABELLED = (
    r"(?P<label>(?i:\b(?:api[-_ ]?key|x-api-key|access[-_ ]?token|auth[-_ ]?token|token"
    r"|secret|password|bearer)\b)(?:\s+provided)?[\s:=\"'`]{1,4})"
    r"(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{7,}[A-Za-z0-9_~+/=-]"
)


def _old_mask(match: re.Match[str]) -> str:
    label = match.group("label")
    return MASK if label is None else label + MASK


def old_text(secrets: list[str], text: str) -> str:
    pattern = re.compile("|".join([*map(re.escape, secrets), *_OLD_SHAPES, _OLD_LABELLED]))
    return pattern.sub(_old_mask, text) if pattern.search(text) else text


# Text made of the pieces the patterns care about, next to each other in any order: words that
# label a credential in any case (and in the odd letters IGNORECASE takes for i and s), key
# prefixes with tails of any length, JWT and Z.ai shapes whole and broken, separators, digits,
# dots, word and non-word characters, non-ASCII.
_CHARS = "aAbeiJkKlnoprstxyz019_-./=+~:\"'` \n\\éſıİ\u212a—“"
_KEY_CHARS = "abcdefABCDEFyzJ0123456789_-*."
_tail = st.text(alphabet=_KEY_CHARS, max_size=40)
_prefix = st.sampled_from(
    [
        "sk-",
        "sk-ant-",
        "AIza",
        "xai-",
        "pplx-",
        "nvapi-",
        "csk-",
        "gsk_",
        "hf_",
        "r8_",
        "fw_",
        "ghp_",
        "gho_",
        "github_pat_",
        "glpat_",
        "AKIA",
        "eyJ",
        "eyJ-",
        "x",
        "c",
    ]
)
_word = st.sampled_from(
    [
        "api_key",
        "API-KEY",
        "apikey",
        "x-api-key",
        "access_token",
        "Access",
        "Token",
        "auth-token",
        "token",
        "TOKEN",
        "secret",
        "\u017fecret",
        "password",
        "Bearer",
        "bearer",
        "ap\u0131",
        "\u0130",
        "to\u212aen",
        "provided",
    ]
)
_hex = st.text(alphabet="0123456789abcdef", min_size=30, max_size=34)
_alnum = st.text(alphabet="aZ09", min_size=14, max_size=18)
_pieces = st.one_of(
    st.text(alphabet=_CHARS, max_size=12),
    st.builds(str.__add__, _prefix, _tail),
    _word,
    st.sampled_from([" ", "=", ": ", " provided: ", '"', "==", "\t", "."]),
    st.builds(lambda h, a: f"{h}.{a}", _hex, _alnum),
    st.builds(lambda a, b, c: f"eyJ{a}.{b}.{c}", _tail, _tail, _tail),
)
_secret = st.one_of(
    st.text(alphabet=_CHARS + "0123456789", min_size=8, max_size=24),
    st.builds(str.__add__, st.sampled_from(["sk-", "eyJ", "token=", "AKIA", "a/b"]), _tail),
).filter(lambda s: len(s) >= 8)


@settings(max_examples=1500, deadline=None)
@given(
    secrets=st.lists(_secret, max_size=4),
    # A number stands for one of the secrets in one of its written forms (JSON-escaped too).
    pieces=st.lists(st.one_of(_pieces, st.integers(0, 11)), max_size=30),
)
@example(secrets=[], pieces=["xeyJ-eyJabcdefgh.abcdefgh.x"])
@example(secrets=[], pieces=["token=" * 5 + "token=1", " token=token=token=token: 12345678"])
@example(secrets=[], pieces=["\u017fecret: abc12345 ap\u0131_key=xyz98765"])
@example(secrets=["sk-ant-abcdefgh0123"], pieces=[0, "456789 ", 1])
def test_the_scan_masks_what_the_alternation_did(
    secrets: list[str], pieces: list[str | int]
) -> None:
    forms = written_forms(secrets)
    text = "".join(
        piece if isinstance(piece, str) else forms[piece % len(forms)] if forms else ""
        for piece in pieces
    )
    expected = old_text(forms, text)
    got = Redactor(forms).text(text)
    assert got == expected
    assert (got is text) == (expected is text)


def test_label_words_are_found_in_any_case_unicode_matches() -> None:
    # The scan looks for the words that label a credential in a lowered copy of the text; every
    # character that IGNORECASE matches to one of their letters must lower to that letter there,
    # and the copy must keep every character in its place. Over all of Unicode.
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    folded = _folded(everything)
    assert len(folded) == len(everything)
    for letter in sorted(set("apikeyxcstoknurwdb")):
        for match in re.finditer(f"(?i){letter}", everything):
            assert folded[match.start()] == letter, hex(ord(match.group()))


def test_long_runs_cost_linear_time() -> None:
    # The alternation read the rest of a run once per word or "eyJ" in it: 120 KB of these took
    # it 6 to 17 s of CPU each. A captured body is the client's to choose.
    r = Redactor(["config-master-key-0001"])
    for text, expected in [
        ("token=" * 20_000, None),
        ("token=" * 20_000 + "1", "token=" + MASK),
        ("Bearer " + "token=" * 20_000, None),
        ("eyJ-" * 30_000, None),
        ("eyJ-" * 30_000 + ".x", None),
    ]:
        start = time.process_time()
        out = r.text(text)
        assert time.process_time() - start < 1.0, text[:20]
        assert out == (text if expected is None else expected)
