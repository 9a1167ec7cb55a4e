"""Tool input schemas cleaned for strict upstreams. Some providers refuse JSON-Schema keywords
others accept (`$schema`, `propertyNames`, `prefixItems`, `exclusiveMinimum`, a top-level
`oneOf`; docs/compatibility.md, item 8), and Moonshot refuses nodes without a `type`. The
cleaned schema and the keywords removed (for the loss report) come back; the input is not
changed."""

from __future__ import annotations

from typing import Any

STRICT_DROP = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "propertyNames",
        "prefixItems",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "patternProperties",
        "unevaluatedProperties",
        "dependentRequired",
        "dependentSchemas",
        "if",
        "then",
        "else",
        "contentEncoding",
        "contentMediaType",
    }
)
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")


def clean_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    dropped: set[str] = set()
    cleaned = _clean(schema, dropped)
    for combinator in ("oneOf", "anyOf", "allOf"):
        # A root must be a plain object schema for function parameters.
        if combinator in cleaned and "type" not in cleaned:
            dropped.add(f"top-level {combinator}")
            del cleaned[combinator]
    cleaned.setdefault("type", "object")
    if cleaned["type"] == "object":
        cleaned.setdefault("properties", {})
    return cleaned, dropped


def _clean(node: dict[str, Any], dropped: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in STRICT_DROP:
            dropped.add(key)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {
                k: _clean(v, dropped) if isinstance(v, dict) else v for k, v in value.items()
            }
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_clean(v, dropped) if isinstance(v, dict) else v for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = _clean(value, dropped)
        else:
            out[key] = value
    if "type" not in out and not any(k in out for k in (*_SCHEMA_LISTS, "$ref", "enum", "const")):
        # Nodes without a type are refused by Moonshot; a property with no constraint is a string
        # in practice, and an object when it has properties.
        out["type"] = "object" if "properties" in out else "string"
        dropped.add("untyped node (typed)")
    return out
