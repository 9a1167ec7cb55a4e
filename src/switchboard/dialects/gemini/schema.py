"""Tool and response schemas cleaned for Gemini. Gemini's `parameters` take an OpenAPI 3.0
subset: no `$schema`, `$ref`/`$defs`, `additionalProperties`, `const`, `oneOf`/`allOf`, type
lists... Keywords outside the subset are removed and named for the loss report; `$ref`s to local
definitions are inlined (to a bounded depth), `const` becomes a one-value `enum`, a type list
with "null" becomes `nullable`, and `oneOf` becomes `anyOf`. The input is not changed."""

from __future__ import annotations

from typing import Any

# What Gemini's Schema object accepts (ai.google.dev/api/caching#Schema).
_KEEP = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "propertyOrdering",
        "default",
        "minimum",
        "maximum",
    }
)
_MAX_DEPTH = 32


def clean_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    dropped: set[str] = set()
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update({f"#/{key}/{k}": v for k, v in schema[key].items()})
    cleaned = _clean(schema, defs, dropped, 0)
    cleaned.setdefault("type", "object")
    return cleaned, dropped


def _clean(node: dict[str, Any], defs: dict[str, Any], dropped: set[str], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        dropped.add("schema nested too deep (cut)")
        return {"type": "object"}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref)
        if isinstance(target, dict):
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _clean(merged, defs, dropped, depth + 1)
        dropped.add("$ref")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _KEEP:
            if key == "type" and isinstance(value, list):
                types = [t for t in value if t != "null"]
                if len(types) < len(value):
                    out["nullable"] = True
                if len(types) > 1:
                    dropped.add("type list")
                value = types[0] if types else "string"
            out[key] = value
        elif key == "properties" and isinstance(value, dict):
            out[key] = {
                k: _clean(v, defs, dropped, depth + 1) if isinstance(v, dict) else v
                for k, v in value.items()
            }
        elif key == "items" and isinstance(value, dict):
            out[key] = _clean(value, defs, dropped, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            if key == "oneOf":
                dropped.add("oneOf (sent as anyOf)")
            out["anyOf"] = [
                _clean(v, defs, dropped, depth + 1) for v in value if isinstance(v, dict)
            ]
        elif key == "const":
            out["enum"] = [value]
        elif key in ("$ref", "$defs", "definitions"):
            continue
        else:
            dropped.add(key)
    enum = out.get("enum")
    if enum is not None:
        strings = isinstance(enum, list) and all(isinstance(v, str) for v in enum)
        if strings and out.setdefault("type", "string") == "string":
            return out
        # Gemini takes enums of strings only.
        dropped.add("enum of non-strings")
        del out["enum"]
    return out
