"""The metric names a PromQL expression reads: what is left once strings, label matchers,
durations, numbers, functions, aggregations and their keywords are taken out. Enough for the
dashboard's queries (tests/deploy/test_dashboard.py), which use nothing more exotic."""

from __future__ import annotations

import re

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_OFFSETS = re.compile(r"\boffset\s+-?[0-9a-z]+")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_FUNCTION_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")

KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
)


def metric_names(expr: str) -> set[str]:
    text = _STRINGS.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _OFFSETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    functions = set(_FUNCTION_CALL.findall(text))
    return {
        name
        for name in _IDENTIFIER.findall(text)
        if name not in functions and name.lower() not in KEYWORDS
    }
